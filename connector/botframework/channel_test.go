package botframework

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/wire"
)

func TestSaveSettings(t *testing.T) {
	t.Parallel()
	stored := map[string]string{SettingBotHandle: "b", SettingAppID: "app", SettingAppSecret: "old-secret"}
	tests := []struct {
		name      string
		anonymous bool
		before    map[string]string
		in        map[string]string
		want      map[string]string
		wantErr   string
	}{
		{name: "ok, trimmed, unknown dropped",
			in:   map[string]string{" bot_handle ": " olbot ", "APP_ID": "A-1", "app_secret": "s", "color": "red"},
			want: map[string]string{"bot_handle": "olbot", "app_id": "A-1", "app_secret": "s"}},
		{name: "links kept", in: map[string]string{"bot_handle": "b", "app_id": "a", "app_secret": "s", "link_telegram": "https://t.me/b", "link_x": ""},
			want: map[string]string{"bot_handle": "b", "app_id": "a", "app_secret": "s", "link_telegram": "https://t.me/b"}},
		{name: "bad link", in: map[string]string{"bot_handle": "b", "app_id": "a", "app_secret": "s", "link_telegram": "t.me/b"}, wantErr: "link_telegram"},
		{name: "no handle", in: map[string]string{"app_id": "a", "app_secret": "s"}, wantErr: "bot_handle is required"},
		{name: "no app id", in: map[string]string{"bot_handle": "b", "app_secret": "s"}, wantErr: "app_id is required"},
		{name: "no secret", in: map[string]string{"bot_handle": "b", "app_id": "a"}, wantErr: "app_secret is required"},
		{name: "bad app id", in: map[string]string{"bot_handle": "b", "app_id": "a b", "app_secret": "s"}, wantErr: "not a Microsoft app id"},
		{name: "masked secret keeps stored", before: stored, in: map[string]string{"bot_handle": "b", "app_id": "app", "app_secret": "*****"},
			want: map[string]string{"bot_handle": "b", "app_id": "app", "app_secret": "old-secret"}},
		{name: "empty secret keeps stored", before: stored, in: map[string]string{"bot_handle": "b", "app_id": "app"},
			want: map[string]string{"bot_handle": "b", "app_id": "app", "app_secret": "old-secret"}},
		{name: "masked secret of another app", before: stored, in: map[string]string{"bot_handle": "b", "app_id": "other", "app_secret": "***"},
			wantErr: "app_secret is required"},
		{name: "anonymous refused by default", in: map[string]string{"bot_handle": "b"}, wantErr: "app_id is required"},
		{name: "anonymous allowed", anonymous: true, in: map[string]string{"bot_handle": "b", "app_id": "", "app_secret": ""},
			want: map[string]string{"bot_handle": "b"}},
		{name: "anonymous needs both empty", anonymous: true, in: map[string]string{"bot_handle": "b", "app_secret": "s"}, wantErr: "app_id is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.anonymous {
				opts = append(opts, WithAnonymous())
			}
			ch, err := NewChannel(connector.Env{}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.SaveSettings(context.Background(), &Line{Settings: tt.before}, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, wire.CodeFailedSaveSettings) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestNewChannelBadOptions(t *testing.T) {
	t.Parallel()
	for _, opt := range []Option{WithTokenURL("not a url"), WithOpenIDMetadataURL("/relative"), WithRetry(0, 0, 0)} {
		if _, err := NewChannel(connector.Env{}, opt); err == nil {
			t.Error("want error")
		}
	}
	f := New()
	if ch, err := f(connector.Env{}); err != nil || ch.ID() != "botframework" || ch.SecretKeys()[0] != "app_secret" {
		t.Fatalf("factory: %v %v", ch, err)
	}
}

func TestTestConnect(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := ctxT(t)
	if err := r.ch.TestConnect(ctx, r.line); err != nil {
		t.Fatal(err)
	}
	// testConnect always asks for a fresh token.
	if err := r.ch.TestConnect(ctx, r.line); err != nil || r.bf.TokensIssued() != 2 {
		t.Fatalf("second testConnect: %v, %d tokens", err, r.bf.TokensIssued())
	}

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + closed.Addr().String() + "/token"
	closed.Close()
	dead, err := NewChannel(connector.Env{Clock: r.clk}, WithTokenURL(deadURL))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		ch       *Channel
		settings map[string]string
		fail     *bftest.Failure
		want     string
	}{
		{"wrong secret", r.ch, map[string]string{SettingAppID: r.bf.AppID(), SettingAppSecret: "nope"}, nil, "401 invalid_client"},
		{"unknown app", r.ch, map[string]string{SettingAppID: "other", SettingAppSecret: "x"}, nil, "400 unauthorized_client"},
		{"no app id", r.ch, map[string]string{}, nil, "app_id is missing"},
		{"endpoint down", r.ch, r.line.Settings, &bftest.Failure{Endpoint: bftest.EndpointToken, Status: 503}, "503 ServiceUnavailable"},
		{"network failure", dead, map[string]string{SettingAppID: "a", SettingAppSecret: "s"}, nil, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				r.bf.Fail(*tt.fail)
			}
			err := tt.ch.TestConnect(ctx, &Line{Settings: tt.settings})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, wire.CodeFailedTestConnector) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.name != "no app id" && !errors.Is(err, ErrToken) {
				t.Fatalf("err = %v, not ErrToken", err)
			}
		})
	}
}

func TestRegisterInfo(t *testing.T) {
	t.Parallel()
	ch, _ := NewChannel(connector.Env{})
	l := &Line{WebhookURL: "https://conn.example/imwebhook/botframework?h=x", Settings: map[string]string{
		SettingBotHandle: "olbot", SettingAppID: "AbC-1", SettingAppSecret: "s", "link_telegram": "https://t.me/olbot"}}
	reg, err := ch.Register(context.Background(), l)
	if err != nil || reg.EntityKey != "abc-1" || reg.Info["messaging_endpoint"] != l.WebhookURL {
		t.Fatalf("register: %+v, %v", reg, err)
	}
	if _, err := ch.Register(context.Background(), &Line{Settings: map[string]string{SettingBotHandle: "b"}}); !errors.Is(err, wire.CodeFailedRegister) {
		t.Fatalf("err = %v", err)
	}
	anon, _ := NewChannel(connector.Env{}, WithAnonymous())
	if reg, err := anon.Register(context.Background(), &Line{Settings: map[string]string{SettingBotHandle: "Emu"}}); err != nil || reg.EntityKey != "anonymous:emu" {
		t.Fatalf("anonymous register: %+v, %v", reg, err)
	}

	info := ch.Info(l)
	links := info["links"].(map[string]string)
	want := map[string]string{
		"skype":    "https://join.skype.com/bot/AbC-1",
		"msteams":  "https://teams.microsoft.com/l/chat/0/0?users=28%3AAbC-1",
		"telegram": "https://t.me/olbot",
	}
	if !maps.Equal(links, want) || info["name"] != "olbot" || info["app_id"] != "AbC-1" {
		t.Fatalf("info %v", info)
	}
	for k, v := range info {
		if s, ok := v.(string); ok && s == "s" {
			t.Fatalf("info leaks the secret in %s", k)
		}
	}
	if err := ch.Unregister(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

func TestServiceURLCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://smba.trafficmanager.net/emea/", true},
		{"http://127.0.0.1:8080/", true},
		{"http://localhost/", true},
		{"http://[::1]:9/", true},
		{"http://smba.example/", false},
		{"ftp://x/", false},
	}
	for _, tt := range tests {
		u, _ := http.NewRequest("GET", tt.url, nil)
		if err := defaultURLCheck(u.URL); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.url, err)
		}
	}
}
