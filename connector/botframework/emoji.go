package botframework

// defaultFromIcons returns the default icon-tag → emoji conversion of outgoing text.
func defaultFromIcons() func(string) string {
	return func(s string) string { return s }
}
