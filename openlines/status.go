package openlines

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
