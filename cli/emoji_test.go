package cli

import (
	"testing"
)

func TestEmoji(t *testing.T) {
	thumbs := "[ICON=/bitrix/images/emoji/1f44d.svg?v=2.2.5 title=:+1:]"
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"shortname", []string{"emoji", "ok", ":+1:"}, "", "ok " + thumbs + "\n"},
		{"unicode", []string{"emoji", "👍"}, "", thumbs + "\n"},
		{"stdin", []string{"emoji"}, "thanks :+1:\n", "thanks " + thumbs + "\n"},
		{"reverse", []string{"emoji", "--reverse", "ok " + thumbs}, "", "ok 👍\n"},
		{"base path", []string{"emoji", "--base-path", "/img", ":+1:"}, "", "[ICON=/img/1f44d.svg?v=2.2.5 title=:+1:]\n"},
		{"unknown shortname kept", []string{"emoji", ":nope: 10:30:45"}, "", ":nope: 10:30:45\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{stdin: tt.stdin}, tt.args...).wantCode(t, 0)
			if r.out != tt.want {
				t.Fatalf("got %q, want %q", r.out, tt.want)
			}
		})
	}
	var doc emojiJSON
	olctl(t, "emoji", "--json", ":+1:").wantCode(t, 0).decodeJSON(t, &doc)
	if doc.Input != ":+1:" || doc.Output != thumbs {
		t.Fatalf("JSON %+v", doc)
	}
	olctl(t, "emoji", "--bogus").wantCode(t, ExitUsage)
}
