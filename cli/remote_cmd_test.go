package cli

import (
	"reflect"
	"slices"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func methodNamed(t *testing.T, name string) remoteMethod {
	t.Helper()
	for _, m := range remoteMethods {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no remote method %s", name)
	return remoteMethod{}
}

func TestNewCmdRemoteParsing(t *testing.T) {
	tests := []struct {
		method string
		args   []string
		want   []any
		needs  []string
		err    string
	}{
		{method: openlines.MethodRegister, needs: boundToLine},
		{method: openlines.MethodTestConnect, needs: boundToConnector},
		{method: openlines.MethodListConnector},
		{method: openlines.MethodDeleteLine, args: []string{"7"}, want: []any{"7"}},
		{method: openlines.MethodInfoConnectorsLine, args: []string{"3"}, want: []any{"3"}},
		{method: openlines.MethodDeleteLine, err: "deleteLine needs LINE"},
		{method: openlines.MethodDeleteLine, args: []string{"1", "2"}, err: "deleteLine takes LINE, not 2 arguments (1 2)"},
		{method: openlines.MethodRegister, args: []string{"x"}, err: `unknown command "x"`},
		{method: openlines.MethodReadSettings, args: []string{"--bogus"}, err: "unknown flag: --bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.err, func(t *testing.T) {
			var got *RemoteOptions
			cmd := NewCmdRemote(testFactory(nil), methodNamed(t, tt.method), func(o *RemoteOptions) error { got = o; return nil })
			err := parse(cmd, tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, runF ran %v", err, got != nil)
			}
			if got.Method != tt.method || !reflect.DeepEqual(got.Args, tt.want) || !reflect.DeepEqual(got.Needs, tt.needs) ||
				got.Context == nil || got.Config == nil || got.Client == nil {
				t.Fatalf("options %+v", got)
			}
		})
	}
}

func TestNewCmdSaveSettingsParsing(t *testing.T) {
	var got *SaveSettingsOptions
	cmd := NewCmdSaveSettings(testFactory(nil), func(o *SaveSettingsOptions) error { got = o; return nil })
	if err := parse(cmd, "--from-file", "s.yaml", "app_id=1", "app_secret=a=b"); err != nil || got == nil {
		t.Fatalf("err %v, runF ran %v", err, got != nil)
	}
	if got.FromFile != "s.yaml" || !reflect.DeepEqual(got.Pairs, []string{"app_id=1", "app_secret=a=b"}) ||
		got.Method != openlines.MethodSaveSettings || !reflect.DeepEqual(got.Needs, boundToLine) || got.Args != nil {
		t.Fatalf("options %+v", got)
	}
	got = nil
	wantParseError(t, parse(NewCmdSaveSettings(testFactory(nil), func(o *SaveSettingsOptions) error { got = o; return nil }),
		"--from-file"), "flag needs an argument", got != nil)
}

func TestNewCmdCallParsing(t *testing.T) {
	var got *RemoteOptions
	cmd := NewCmdCall(testFactory(nil), func(o *RemoteOptions) error { got = o; return nil })
	if err := parse(cmd, "anyMethod", `{"b":1,"a":[true]}`, "42", "plain text"); err != nil || got == nil {
		t.Fatalf("err %v, runF ran %v", err, got != nil)
	}
	if got.Method != "anyMethod" || len(got.Args) != 3 || describeValue(got.Args[0]) != "{b=1 a=[true]}" ||
		got.Args[1] != int64(42) || got.Args[2] != "plain text" || !slices.Equal(got.Needs, []string{KeyConnector}) {
		t.Fatalf("options %+v", got)
	}
	if _, ok := got.Args[0].(*wire.Map); !ok {
		t.Fatalf("an object argument is %T, want an ordered *wire.Map", got.Args[0])
	}
	got = nil
	if err := parse(NewCmdCall(testFactory(nil), func(o *RemoteOptions) error { got = o; return nil }), "listConnector"); err != nil ||
		got == nil || got.Needs != nil {
		t.Fatalf("a connector-less method needs %v (err %v)", got, err)
	}
	got = nil
	wantParseError(t, parse(NewCmdCall(testFactory(nil), func(o *RemoteOptions) error { got = o; return nil })),
		"call needs METHOD [ARG ...]", got != nil)
}
