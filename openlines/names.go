package openlines

import "strings"

// The commands a connector server sends to a portal (docs/protocol.md §7).
const (
	CommandTestConnect             = "testConnect"
	CommandReceivingMessage        = "receivingMessage"
	CommandReceivingStatusDelivery = "receivingStatusDelivery"
	CommandReceivingStatusReading  = "receivingStatusReading"
	CommandReceivingError          = "receivingError"
	CommandReceivingStatusBlock    = "receivingStatusBlock"
	CommandDeactivateConnector     = "deactivateConnector"
	CommandSetChatName             = "setChatName"
)

// Commands returns the server → portal commands, in the order of docs/protocol.md §7.
func Commands() []string {
	return []string{CommandTestConnect, CommandReceivingMessage, CommandReceivingStatusDelivery,
		CommandReceivingStatusReading, CommandReceivingError, CommandReceivingStatusBlock,
		CommandDeactivateConnector, CommandSetChatName}
}

// The methods a portal calls on a connector server (docs/protocol.md §10). Other names go out as they are.
const (
	MethodSaveSettings              = "saveSettings"
	MethodTestConnect               = "testConnect"
	MethodRegister                  = "register"
	MethodUnregister                = "unregister"
	MethodDeleteConnector           = "deleteConnector"
	MethodReadSettings              = "readSettings"
	MethodInfoConnect               = "infoConnect"
	MethodInfoConnectLink           = "infoConnectLink"
	MethodListConnector             = "listConnector"
	MethodInfoConnectorsLine        = "infoConnectorsLine"
	MethodDeleteLine                = "deleteLine"
	MethodSaveDomainSite            = "saveDomainSite"
	MethodSendMessage               = "sendMessage"
	MethodUpdateMessage             = "updateMessage"
	MethodDeleteMessage             = "deleteMessage"
	MethodSetStatusDelivered        = "setStatusDelivered"
	MethodSetStatusReading          = "setStatusReading"
	MethodInitializeReceiveMessages = "initializeReceiveMessages"
)

// Methods returns the methods of docs/protocol.md §10.
func Methods() []string {
	return []string{MethodSaveSettings, MethodTestConnect, MethodRegister, MethodUnregister,
		MethodDeleteConnector, MethodReadSettings, MethodInfoConnect, MethodInfoConnectLink, MethodListConnector,
		MethodInfoConnectorsLine, MethodDeleteLine, MethodSaveDomainSite, MethodSendMessage, MethodUpdateMessage,
		MethodDeleteMessage, MethodSetStatusDelivered, MethodSetStatusReading, MethodInitializeReceiveMessages}
}

// ConnectorAll is the CONNECTOR of the calls that name no connector (listConnector, deleteLine, …); their
// LINE is empty.
const ConnectorAll = "all"

// Botframework is the real connector id of the Bot Framework channel; its virtual ids are
// "botframework.<channel>".
const Botframework = "botframework"

// RealConnector returns the real connector id of a connector id: the lower-cased text before the first '.'
// ("botframework.skype" → "botframework").
func RealConnector(id string) string {
	if i := strings.IndexByte(id, '.'); i >= 0 {
		id = id[:i]
	}
	return strings.ToLower(id)
}

// IsReadOnly reports whether a method only reads (testConnect, readSettings, info…, list…): the ones a client
// may retry and cache. Names are compared in any case.
func IsReadOnly(method string) bool {
	m := strings.ToLower(method)
	return m == "testconnect" || m == "readsettings" || strings.HasPrefix(m, "info") || strings.HasPrefix(m, "list")
}

// IsFireAndForget reports whether Bitrix never reads the answer body of a method (sendMessage, updateMessage,
// deleteMessage, setStatusDelivered, setStatusReading, initializeReceiveMessages). Names are compared in any
// case.
func IsFireAndForget(method string) bool {
	switch strings.ToLower(method) {
	case "sendmessage", "updatemessage", "deletemessage", "setstatusdelivered", "setstatusreading",
		"initializereceivemessages":
		return true
	}
	return false
}

// IsConnectorLess reports whether a method names no connector and goes out with CONNECTOR "all" and an empty
// LINE (listConnector, deleteLine, infoConnectorsLine, saveDomainSite). Names are compared in any case.
func IsConnectorLess(method string) bool {
	switch strings.ToLower(method) {
	case "listconnector", "deleteline", "infoconnectorsline", "savedomainsite":
		return true
	}
	return false
}

// ChangesConnector reports whether a method changes what the server knows of a connector on a line, so that
// cached read-only answers of that line must be dropped (docs/protocol.md §10).
func ChangesConnector(method string) bool {
	switch strings.ToLower(method) {
	case "savesettings", "register", "unregister", "deleteconnector", "deleteline":
		return true
	}
	return false
}

// ReadingConnectors returns the real connectors that take setStatusReading by default (docs/protocol.md
// §10): a portal sends it to no other.
func ReadingConnectors() []string { return []string{"vkgroup", "avito"} }
