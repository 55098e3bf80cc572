// Package botframework is the connector server's channel for Microsoft's Bot Framework: the real connector
// "botframework", which carries the virtual connectors "botframework.<channelId>" (botframework.skype,
// botframework.msteams, botframework.webchat, …). One line connector is one Azure bot. Package schema holds
// the Activity v3 types and constants shared with bftest.
//
//	chs := connector.NewChannels()
//	chs.Register(botframework.ID, botframework.New()) // Microsoft's endpoints by default
//	// tests: botframework.New(botframework.WithOpenIDMetadataURL(bf.OpenIDMetadataURL()),
//	//                         botframework.WithTokenURL(bf.TokenURL()))
//
// Options (defaults in their comments): WithOpenIDMetadataURL, WithTokenURL, WithScope, WithClock,
// WithHTTPClient, WithLogger (else the server's Env), WithEmoji (default emoji.New().FromIcons), WithRetry (4
// attempts, 1 s … 30 s), WithServiceURLCheck (https, or http to loopback only), WithAnonymous (the Emulator's
// mode: lines without app id and secret).
//
// # Settings and registration
//
// bot_handle, app_id, app_secret (a secret: a masked ******** sent back keeps the stored one), optional
// link_<channel> contact links. testConnect obtains a fresh token; register claims the app id (lower case)
// as the entity key, so one bot belongs to one line (registering it elsewhere deactivates the old line);
// infoConnect and infoConnectLink answer the messaging endpoint to enter in Azure and the links (skype and
// msteams from the app id, plus link_*).
//
// # Webhook
//
// Receive checks the bearer JWT as the SDKs do: RS256 only, by a key of the OpenID metadata's JWKS that
// endorses the activity's channelId, issuer https://api.botframework.com, audience the app id, exp required
// and exp/nbf with 5 minutes of skew, the lower-case serviceurl claim equal to the activity's serviceUrl. Keys
// are cached, fetched again after 24 h and at once on an unknown kid (at most once a minute, so forged kids
// cannot flood Microsoft), one fetch for concurrent webhooks; a failed daily refresh keeps the stale keys.
// The service sends one token with many activities: a token's signature, issuer and audience are checked
// once (up to 1 024 verified tokens are remembered per channel), its time, key, endorsement and serviceurl
// with every activity. Rejections answer 401, unavailable keys 503, unreadable bodies 400.
//
// # Mapping
//
// Map turns an activity into items of package openlines (docs/protocol.md §7):
//
//   - message → receivingMessage {user from from, chat from conversation, message {id = activity id, date,
//     text, files [{url, name, type}] from attachments with a link (Teams' file.download.info too; files kept
//     by the Connector service itself, Skype's and Teams' pasted images, get headers with the bot's token,
//     without which the service refuses the download), cards as message.attachments {card: {type, name,
//     content}}}, the whole recipient and service_url (the chat's context, docs/protocol.md §8.4)};
//     messageUpdate → type_message message_update, messageDelete → message_del, typing → typing_start;
//   - contactRelationUpdate → receivingStatusBlock {chat, user, message {type}}: action remove (the user
//     removed or blocked the bot) message_deny, add message_allow;
//   - conversationUpdate naming the conversation → setChatName {name, chat_id, user_id} (the server sends it
//     to current portals only);
//   - anything else is ignored (logged). Unknown fields are ignored.
//
// DedupKey hashes channel, conversation, type and activity id (plus the timestamp of an edit), so the
// service's redelivery (Teams retries after 15 s) is queued once.
//
// # Sending
//
// Send reads the portal's items as openlines.OutgoingMessage (the current shape; a legacy item's user is
// ignored, a single message.id is read as a list). sendMessage → POST
// {service_url}/v3/conversations/{chat.id}/activities with the stored from, icon tags turned back into
// emoji and files as attachments (contentUrl from downloadLink or link, the MIME type from mime, the disk
// type or the name); the activity id comes back in receivingStatusDelivery {im, message {id: [id], date},
// chat}. A typing_start item is sent as a typing activity. updateMessage and deleteMessage → PUT and DELETE
// …/activities/{id}, with the ids of message.id or, when the portal does not send them, those this server
// sent for the same portal message. Ids are escaped per path segment (the / : ; of Teams' ;messageid=
// included). 429, 412, 502, 503, 504 and refused connections are retried with jittered exponential back-off
// or exactly the Retry-After (seconds or a date; longer than the max ends the retries); a 401 gets one retry
// with a fresh token; bodies over 262 144 bytes are refused before sending. An item that fails becomes a flat
// receivingError {code: CONNECTOR_NOT_SEND_MESSAGE_CHAT (CONNECTOR_ERROR_DELETE_MESSAGE for a delete),
// chatId and messageId from im, messageConnector: what went wrong, with the service's X-Correlating-OperationId,
// params {errorCode: the service's code, HTTP_<status>, NETWORK_ERROR, PAYLOAD_TOO_LARGE, or
// CONNECTOR_HAS_EXPIRED_ACCESS_TOKEN_USER when no token could be had}}.
//
// # Tokens
//
// Client credentials (scope https://api.botframework.com/.default), cached per app until 5 minutes before
// expiry, one refresh at a time for concurrent senders (a caller that gives up does not cancel it for the
// others); a failure is an error (ErrToken, *TokenError), never a panic. The token is only sent to https
// service URLs (or loopback).
//
// Every call goes through the server's client (connector.Env.HTTPClient), which the server holds to its
// address guard, or a client given with WithHTTPClient, held to the same guard (connector.Env.GuardClient):
// a service URL, token or key endpoint on a loopback or private address is refused before a byte is sent
// unless the server allows private networks (Config.AllowPrivateNetworks, Env.AllowPrivateNetworks).
//
// Build it with New and register it with the connector server under ID.
package botframework
