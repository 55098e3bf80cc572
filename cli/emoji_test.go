package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestEmoji(t *testing.T) {
	icon := func(file, title string) string {
		return "[ICON=/bitrix/images/emoji/" + file + ".svg?v=2.2.5 title=" + title + "]"
	}
	thumbs := icon("1f44d", ":+1:")
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"shortname", []string{"emoji", "ok", ":+1:"}, "", "ok " + thumbs + "\n"},
		{"unicode", []string{"emoji", "👍"}, "", icon("1f44d", ":thumbsup:") + "\n"},
		{"keycap", []string{"emoji", "#️⃣"}, "", icon("0023-20e3", ":hash:") + "\n"},
		{"stdin", []string{"emoji"}, "thanks :+1:\n", "thanks " + thumbs + "\n"},
		{"smileys by default", []string{"emoji", ":) <3"}, "", icon("1f642", ":)") + " " + icon("2764", "&lt;3") + "\n"},
		{"smileys off", []string{"emoji", "--smileys=false", ":) :+1:"}, "", ":) " + thumbs + "\n"},
		{"hex by default", []string{"emoji", "ok :F09F918D:"}, "", "ok " + icon("1f44d", ":thumbsup:") + "\n"},
		{"hex off", []string{"emoji", "--hex-escapes=false", "ok :F09F918D:"}, "", "ok :F09F918D:\n"},
		{"icons off", []string{"emoji", "--icons=false", "ok :F09F918D: 👍 :+1: :)"}, "", "ok 👍 👍 :+1: :)\n"},
		{"icons and hex off", []string{"emoji", "--icons=false", "--hex-escapes=false", ":F09F918D:"}, "", ":F09F918D:\n"},
		{"reverse", []string{"emoji", "--reverse", "ok " + thumbs}, "", "ok 👍\n"},
		{"base path", []string{"emoji", "--base-path", "/img", ":+1:"}, "", "[ICON=/img/1f44d.svg?v=2.2.5 title=:+1:]\n"},
		{"unknown shortname kept", []string{"emoji", ":nope: 10:30:45 🥲"}, "", ":nope: 10:30:45 🥲\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{stdin: tt.stdin}, tt.args...).wantCode(t, ExitOK)
			if r.out != tt.want {
				t.Fatalf("got %q, want %q", r.out, tt.want)
			}
		})
	}
	var doc emojiJSON
	olctl(t, "emoji", "--json", ":+1:").wantCode(t, ExitOK).decodeJSON(t, &doc)
	if doc.Input != ":+1:" || doc.Output != thumbs {
		t.Fatalf("JSON %+v", doc)
	}
}

func TestEmojiUsage(t *testing.T) {
	for _, args := range [][]string{
		{"emoji", "--bogus"},
		{"emoji", "--icons=maybe", "x"},
		{"emoji", "--reverse", "--icons=false", "x"},
		{"emoji", "--reverse", "--smileys=false", "x"},
		{"emoji", "--reverse", "--hex-escapes=false", "x"},
	} {
		if r := olctl(t, args...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, ExitUsage, r.err)
		}
	}
	help := olctl(t, "emoji", "--help").wantCode(t, ExitOK).out
	for _, want := range []string{"--icons", "--icons=false", "--smileys", "--hex-escapes", "--reverse", "--base-path", "(default true)"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

func TestNewCmdEmojiParsing(t *testing.T) {
	tests := []struct {
		args []string
		want EmojiOptions
		err  string
	}{
		{args: nil, want: EmojiOptions{Icons: true, Smileys: true, HexEscapes: true, Text: []string{}}},
		{args: []string{"--icons=false", "--smileys=false", "--hex-escapes=false", "--base-path", "/img", "a", "b"},
			want: EmojiOptions{BasePath: "/img", Text: []string{"a", "b"}}},
		{args: []string{"-r", "x"}, want: EmojiOptions{Reverse: true, Icons: true, Smileys: true, HexEscapes: true, Text: []string{"x"}}},
		{args: []string{"--reverse", "--hex-escapes=false", "x"}, err: "--hex-escapes does not apply"},
		{args: []string{"--icons=maybe"}, err: `invalid argument "maybe"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *EmojiOptions
			err := parse(NewCmdEmoji(testFactory(nil), func(o *EmojiOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Config == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
			g := *got
			g.Context, g.IO, g.Config = nil, IO{}, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
