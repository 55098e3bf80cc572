package openlines

import "context"

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
