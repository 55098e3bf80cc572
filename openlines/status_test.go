package openlines

import "testing"

func TestLineStatusAfterConnectStep(t *testing.T) {
	t.Parallel()
	connected := LineStatus{Active: true, Connection: true, Register: true}
	elsewhere := LineStatus{Active: true, Connection: true, Register: true, Error: true}
	tests := []struct {
		from   LineStatus
		method string
		ok     bool
		want   LineStatus
	}{
		{LineStatus{}, MethodSaveSettings, true, LineStatus{Active: true}},
		{elsewhere, MethodSaveSettings, true, LineStatus{Active: true, Error: true}},
		{elsewhere, MethodSaveSettings, false, LineStatus{Error: true}},
		{LineStatus{Active: true}, "TESTCONNECT", true, LineStatus{Active: true, Connection: true}},
		{connected, MethodTestConnect, false, LineStatus{Active: true}},
		{LineStatus{Active: true, Connection: true, Error: true}, MethodRegister, true, connected},
		{elsewhere, MethodRegister, false, LineStatus{Active: true, Connection: true, Error: true}},
		{elsewhere, MethodUnregister, true, elsewhere},
	}
	for _, tt := range tests {
		if got := tt.from.AfterConnectStep(tt.method, tt.ok); got != tt.want {
			t.Errorf("%+v after %s (ok %v) = %+v, want %+v", tt.from, tt.method, tt.ok, got, tt.want)
		}
	}
	if !connected.Open() || elsewhere.Open() {
		t.Error("Open disagrees with the gate's rule")
	}
}
