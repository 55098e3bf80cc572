// Package openlines is the vocabulary of the Open Lines connector protocol, defined once for every package of
// this module (docs/protocol.md §7, §10): the command and method names, the real-connector rule, the items a
// connector server sends to a portal, the external user and its files, the messages a portal sends out, and
// the status of a connector on a line.
//
// The types carry `php` tags, so that wire.Bind and wire.DecodeItems fill them from a decoded packet and
// wire.Serialize writes them in the protocol's key order; and `json` tags, for events and the CLI. Keys a
// struct does not name are kept in its Other field where it has one.
//
// Validation is per item and never fails a packet: Validate returns a *wire.Error whose code is the
// item-level code Bitrix uses (CONNECTOR_PROXY_NO_USER_IM, IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA,
// PROVIDER_UNSUPPORTED_TYPE_INCOMING_MESSAGE, …), for the receiver to report locally.
package openlines
