package botframework

import "github.com/olctl/olctl/emoji"

// defaultFromIcons returns the default icon-tag → emoji conversion of outgoing text (PROTOCOL.md §5.1 step 1,
// backwards).
func defaultFromIcons() func(string) string { return emoji.New().FromIcons }
