package openlines

import (
	"context"
	"strings"
)

// LineStatus is the status of a real connector on a line (docs/protocol.md §7, §10): connecting sets Active,
// Connection and Register in turn, deactivateConnector sets Error.
type LineStatus struct {
	Active     bool `json:"active"`     // switched on for the line
	Connection bool `json:"connection"` // its settings were saved and tested
	Register   bool `json:"register"`   // registered with the connector server
	Error      bool `json:"error"`      // needs an administrator: connected elsewhere, or a failure
}

// Open reports whether the line gate lets receivingMessage and setChatName through: Active, Connection and
// Register without Error.
func (s LineStatus) Open() bool { return s.Active && s.Connection && s.Register && !s.Error }

// LineStatusStore keeps the status of each (real connector, line): the portal's connect flow writes it and the
// line gate of the receiving portal reads it (docs/protocol.md §7, §10). Keys are real connector ids
// (RealConnector): every virtual connector of a real one shares its status. Implementations are safe for
// concurrent use.
type LineStatusStore interface {
	// LineStatus returns the stored status; a line never connected has every flag false.
	LineStatus(ctx context.Context, realConnector, line string) (LineStatus, error)
	// SetLineStatus stores every flag of s for (realConnector, line).
	SetLineStatus(ctx context.Context, realConnector, line string, s LineStatus) error
}

// AfterConnectStep returns s after a step of the connect flow (docs/protocol.md §10): saveSettings,
// testConnect and register set ACTIVE, CONNECTION and REGISTER in turn, saveSettings also clearing the later
// two and register clearing ERROR; a step that fails clears its flag and the later ones and leaves ERROR as
// it was. Another method returns s unchanged.
func (s LineStatus) AfterConnectStep(method string, ok bool) LineStatus {
	flags := []*bool{&s.Active, &s.Connection, &s.Register}
	step := -1
	for i, m := range []string{MethodSaveSettings, MethodTestConnect, MethodRegister} {
		if strings.EqualFold(method, m) {
			step = i
		}
	}
	if step < 0 {
		return s
	}
	*flags[step] = ok
	if !ok || step == 0 {
		for _, f := range flags[step+1:] {
			*f = false
		}
	}
	if ok && step == len(flags)-1 {
		s.Error = false
	}
	return s
}
