package openlines

import "testing"

func TestRealConnector(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"botframework":         "botframework",
		"botframework.skype":   "botframework",
		"BotFramework.WebChat": "botframework",
		"vkgroup":              "vkgroup",
		"a.b.c":                "a",
		"":                     "",
		".skype":               "",
	} {
		if got := RealConnector(in); got != want {
			t.Errorf("RealConnector(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMethodKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method                                      string
		read, fireAndForget, connectorLess, changes bool
	}{
		{MethodTestConnect, true, false, false, false},
		{"TESTCONNECT", true, false, false, false},
		{MethodReadSettings, true, false, false, false},
		{MethodInfoConnect, true, false, false, false},
		{MethodInfoConnectLink, true, false, false, false},
		{MethodInfoConnectorsLine, true, false, true, false},
		{MethodListConnector, true, false, true, false},
		{MethodSaveSettings, false, false, false, true},
		{MethodRegister, false, false, false, true},
		{MethodUnregister, false, false, false, true},
		{MethodDeleteConnector, false, false, false, true},
		{MethodDeleteLine, false, false, true, true},
		{MethodSaveDomainSite, false, false, true, false},
		{MethodSendMessage, false, true, false, false},
		{"sendmessage", false, true, false, false},
		{MethodUpdateMessage, false, true, false, false},
		{MethodDeleteMessage, false, true, false, false},
		{MethodSetStatusDelivered, false, true, false, false},
		{MethodSetStatusReading, false, true, false, false},
		{MethodInitializeReceiveMessages, false, true, false, false},
		{"customMethod", false, false, false, false},
	} {
		if IsReadOnly(tc.method) != tc.read || IsFireAndForget(tc.method) != tc.fireAndForget ||
			IsConnectorLess(tc.method) != tc.connectorLess || ChangesConnector(tc.method) != tc.changes {
			t.Errorf("%s: read %v fire-and-forget %v connector-less %v changes %v", tc.method,
				IsReadOnly(tc.method), IsFireAndForget(tc.method), IsConnectorLess(tc.method), ChangesConnector(tc.method))
		}
	}
	if len(Methods()) != 18 || len(Commands()) != 8 {
		t.Fatalf("%d methods, %d commands", len(Methods()), len(Commands()))
	}
}

func TestLineStatusOpen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    LineStatus
		open bool
	}{
		{LineStatus{Active: true, Connection: true, Register: true}, true},
		{LineStatus{Active: true, Connection: true, Register: true, Error: true}, false},
		{LineStatus{Active: true, Connection: true}, false},
		{LineStatus{Connection: true, Register: true}, false},
		{LineStatus{}, false},
	} {
		if tc.s.Open() != tc.open {
			t.Errorf("%+v: Open() = %v", tc.s, !tc.open)
		}
	}
}
