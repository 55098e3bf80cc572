// Package bftest is a fake of Microsoft's Bot Framework service for tests and local runs, good enough that
// Microsoft's own botframework-connector npm client cannot tell it apart (see the SDK check below). It plays
// both sides a bot talks to:
//
//   - the messenger: SendUserMessage posts a schema v3 Activity (type, id, timestamp, serviceUrl, channelId,
//     from, recipient, conversation, text, textFormat, attachments, …) to the bot's webhook with a bearer JWT
//     it signs itself (RS256; iss https://api.botframework.com, aud the app id, exp, nbf, iat and the
//     lower-case serviceurl claim; reused for the same bot and serviceUrl until half its lifetime has passed or
//     the key rotates), and publishes the key as OpenID metadata (/v1/.well-known/openidconfiguration)
//     and JWKS (/v1/.well-known/keys, with endorsements). SendContactRelation plays a user who removes
//     (blocks) or adds back the bot (contactRelationUpdate, action remove or add), SendConversationName a group
//     conversation that gets its name (conversationUpdate), SendActivity any activity. AddBot serves more
//     bots than the configured one: an activity whose recipient is one of them carries a token for its app;
//   - the Connector service: the OAuth client-credentials endpoint (/botframework.com/oauth2/v2.0/token; it
//     checks client_id, client_secret, grant_type and the scope https://api.botframework.com/.default and
//     answers like Entra ID, also through MSAL's authority metadata), and the REST API
//     POST /v3/conversations/{id}/activities and POST|PUT|DELETE …/activities/{activityId}, answering
//     ResourceResponse {id} or {error:{code,message}} with an X-Correlating-OperationId header. Calls need a
//     token from the token endpoint; bodies over 262 144 bytes get 413 MessageSizeTooBig; updating or
//     deleting an unknown activity gets 404 ActivityNotFound. Activity ids look like Direct Line's
//     (<conversation>|0000001), so callers must escape them. AddAttachment keeps a file the way Skype and
//     Teams keep pasted images (GET /v3/attachments/{id}/views/original, bot token required).
//
// Every REST call is recorded (Record: operation, raw escaped path, unescaped ids, decoded activity, body,
// headers, caller's app id, answered status and id), and tests wait for them on channels, never sleeping:
//
//	bf := bftest.NewServer(t, bftest.WithChannelID("msteams")) // closed by t.Cleanup
//	id, err := bf.SendUserMessage(ctx, webhookURL, "19:chat;messageid=1", "29:ann", "hello",
//		schema.Attachment{ContentType: "image/png", ContentURL: "https://files.example/cat.png", Name: "cat.png"})
//	rec := bf.Expect(t, bftest.All(bftest.ByConversation("19:chat;messageid=1"), bftest.ByOp(bftest.OpSend)))
//	// rec.RawPath == "/v3/conversations/19%3Achat%3Bmessageid%3D1/activities", rec.Activity.Text, rec.ID …
//
//	bf.Fail(bftest.Failure{Status: 429, RetryAfter: "3"})  // the next call is throttled
//	bf.Fail(bftest.Failure{Endpoint: bftest.EndpointToken, Status: 503})
//	bf.Fail(bftest.Failure{Hold: release})                  // an answer held until close(release)
//	tok, _ := bf.MintToken(bftest.Claims{Audience: "another-bot"}) // bad tokens for rejection tests
//	bf.RotateKey()                                          // a new kid, old keys still published
//
// Standalone: Start(Config{Addr: "127.0.0.1:3978", NoAuth: true}) (what olctl bf serve runs). Config.Wrap
// wraps the service's handler inside its limits, for a recorder of the calls made to it (olctl bf serve
// --trace).
//
// Guarantees: exactly the claim names and answers of the real service (so a test cannot pass on a
// misspelling). NoAuth behaves as the Emulator: no Authorization header is needed, an empty Bearer counts as
// none, a present but invalid token is 401, and webhooks get no token. Failure.Delay runs on the injected
// clock; held and delayed answers end with the request's context or Close. Routing is on the escaped path, one
// segment at a time (ids with /, :, ; stay whole). WithTLS serves HTTPS with a self-signed certificate
// (CertificatePEM, Client) for SDKs that insist on an https authority.
//
// SDK check: TestSDKCheck runs testdata/sdkcheck/check.js with Microsoft's botframework-connector 4.23.3 and
// @azure/msal-node 2.16.3: the SDK's own ChannelValidation accepts the fake's webhook token (keys read from
// the fake's OpenID metadata) and refuses one for another bot; MSAL obtains a token from the fake's token
// endpoint; the ConnectorClient sends, replies to, updates and deletes activities and reads back the fake's
// ids; the paths it escapes equal schema.EscapeSegment; a second delete gets the SDK's 404
// ActivityNotFound; a call without credentials gets 401. make test installs the packages (npm ci in
// testdata/sdkcheck); without node or the packages the test skips loudly, except under CI=true, where it
// fails.
package bftest
