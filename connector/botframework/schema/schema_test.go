package schema

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestEscapeSegment(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc-DEF_1.2", "abc-DEF_1.2"},
		{"a/b", "a%2Fb"},
		{"29:1A2b3C", "29%3A1A2b3C"},
		{"19:abc@thread.skype;messageid=1520", "19%3Aabc%40thread.skype%3Bmessageid%3D1520"},
		{"a b+c?d#e%f", "a%20b%2Bc%3Fd%23e%25f"},
		{"!~*'()", "!~*'()"},
		{"é", "%C3%A9"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := EscapeSegment(tt.in); got != tt.want {
			t.Errorf("EscapeSegment(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := url.PathUnescape(EscapeSegment(tt.in)); err != nil || back != tt.in {
			t.Errorf("PathUnescape(EscapeSegment(%q)) = %q, %v", tt.in, back, err)
		}
	}
}

func TestActivitiesURL(t *testing.T) {
	tests := []struct {
		name, service, conv, activity, want string
		wantErr                             bool
	}{
		{name: "plain", service: "https://smba.example", conv: "c1",
			want: "https://smba.example/v3/conversations/c1/activities"},
		{name: "service path and slash", service: "https://smba.example/emea/", conv: "c1", activity: "a1",
			want: "https://smba.example/emea/v3/conversations/c1/activities/a1"},
		{name: "teams thread", service: "http://127.0.0.1:1234", conv: "19:x@thread.skype;messageid=15", activity: "1|2/3",
			want: "http://127.0.0.1:1234/v3/conversations/19%3Ax%40thread.skype%3Bmessageid%3D15/activities/1%7C2%2F3"},
		{name: "query dropped", service: "https://smba.example/?a=b", conv: "a/b",
			want: "https://smba.example/v3/conversations/a%2Fb/activities"},
		{name: "relative", service: "/x", conv: "c", wantErr: true},
		{name: "ftp", service: "ftp://x", conv: "c", wantErr: true},
		{name: "garbage", service: "http://[::1", conv: "c", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ActivitiesURL(tt.service, tt.conv, tt.activity)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if u.EscapedPath() != strings.TrimPrefix(strings.SplitN(tt.want, "://", 2)[1], u.Host) {
				t.Fatalf("escaped path %q lost on re-parse", u.EscapedPath())
			}
		})
	}
}

func TestActivityJSON(t *testing.T) {
	// Unknown fields are ignored; zero times and empty values are not written.
	in := `{"type":"message","id":"a1","timestamp":"2024-05-01T10:00:00.123Z","serviceUrl":"https://s/",
	"channelId":"skype","from":{"id":"29:u","name":"Ann Lee","properties":{"x":1}},"conversation":{"id":"c","isGroup":true},
	"recipient":{"id":"28:bot","name":"bot"},"text":"hi","attachments":[{"contentType":"image/png","contentUrl":"https://f/x.png","name":"x.png"}],
	"entities":[{"type":"clientInfo","locale":"en"}],"channelData":{"tenant":{"id":"t"}},"futureField":{"deep":[1,2,3]}}`
	var a Activity
	if err := json.Unmarshal([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "a1" || a.From.Name != "Ann Lee" || !a.Conversation.IsGroup || a.Attachments[0].ContentURL != "https://f/x.png" ||
		a.Timestamp.Nanosecond() != 123000000 || len(a.Entities) != 1 || string(a.ChannelData) != `{"tenant":{"id":"t"}}` {
		t.Fatalf("decoded %+v", a)
	}
	out, err := json.Marshal(Activity{Type: TypeMessage, Text: "x", Conversation: ConversationAccount{ID: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"type":"message","conversation":{"id":"c"},"text":"x"}`; got != want {
		t.Fatalf("marshal = %s, want %s", got, want)
	}
	a = Activity{Type: TypeMessage, Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	out, _ = json.Marshal(a)
	if got, want := string(out), `{"type":"message","timestamp":"2024-01-02T03:04:05Z"}`; got != want {
		t.Fatalf("marshal = %s, want %s", got, want)
	}
}

// FuzzActivitiesURL: any ids give a URL whose path splits back into exactly those ids.
func FuzzActivitiesURL(f *testing.F) {
	f.Add("19:abc@thread.skype;messageid=1520/x", "a|1")
	f.Add("%2F", "")
	f.Fuzz(func(t *testing.T, conv, act string) {
		u, err := ActivitiesURL("https://smba.example/emea/", conv, act)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		segs := strings.Split(strings.TrimPrefix(pu.EscapedPath(), "/emea/v3/conversations/"), "/")
		want := 2
		if act != "" {
			want = 3
		}
		if len(segs) != want || segs[1] != "activities" {
			t.Fatalf("%q split into %q", u, segs)
		}
		if got, _ := url.PathUnescape(segs[0]); got != conv {
			t.Fatalf("conversation %q came back as %q", conv, got)
		}
		if act != "" {
			if got, _ := url.PathUnescape(segs[2]); got != act {
				t.Fatalf("activity %q came back as %q", act, got)
			}
		}
	})
}
