package botframework

import "github.com/olctl/olctl/emoji"

// defaultFromIcons returns the default icon-tag → emoji conversion of outgoing text (docs/protocol.md §9.2,
// backwards: the portal's icon tags become the emoji again).
func defaultFromIcons() func(string) string { return emoji.New().FromIcons }
