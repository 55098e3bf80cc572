// Drives Microsoft's botframework-connector client against a bftest fake (see bftest/sdk_test.go).
// Input: one JSON argument {serviceUrl, authority, openIdUrl, appId, appSecret, conversationId, channelId,
// goodToken, badAudienceToken}. Output: one JSON line with what the SDK saw, or {error} and exit code 1.
'use strict';
const { ConfidentialClientApplication } = require('@azure/msal-node');
const {
  ConnectorClient,
  MsalAppCredentials,
  ChannelValidation,
  SimpleCredentialProvider,
} = require('botframework-connector');

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return undefined;
  }
}

async function rejected(p) {
  try {
    await p;
    return null;
  } catch (e) {
    const body = (e.response && (e.response.parsedBody || safeParse(e.response.bodyAsText))) || e.body || {};
    return { status: e.statusCode || 0, code: (body.error && body.error.code) || '', message: String(e.message) };
  }
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const out = {};

  // 1. The SDK's own validation of the tokens bftest sends to a bot's webhook.
  ChannelValidation.OpenIdMetadataEndpoint = cfg.openIdUrl;
  const provider = new SimpleCredentialProvider(cfg.appId, cfg.appSecret);
  const identity = await ChannelValidation.authenticateChannelTokenWithServiceUrl(
    'Bearer ' + cfg.goodToken, provider, cfg.serviceUrl, cfg.channelId);
  out.validAudience = identity.getClaimValue('aud');
  out.badAudience = await rejected(ChannelValidation.authenticateChannelTokenWithServiceUrl(
    'Bearer ' + cfg.badAudienceToken, provider, cfg.serviceUrl, cfg.channelId));

  // 2. The Connector REST API with a token MSAL obtains from bftest's token endpoint.
  const host = new URL(cfg.authority).host;
  const cca = new ConfidentialClientApplication({
    auth: { clientId: cfg.appId, clientSecret: cfg.appSecret, authority: cfg.authority, knownAuthorities: [host] },
  });
  const creds = new MsalAppCredentials(cca, cfg.appId, undefined, 'https://api.botframework.com');
  const client = new ConnectorClient(creds, { baseUri: cfg.serviceUrl });
  const conv = cfg.conversationId;
  const activity = (text) => ({
    type: 'message',
    from: { id: '28:' + cfg.appId, name: 'sdk bot' },
    conversation: { id: conv },
    text,
    attachments: [{ contentType: 'image/png', contentUrl: 'https://files.example/a.png', name: 'a.png' }],
  });
  out.sent = (await client.conversations.sendToConversation(conv, activity('from the sdk'))).id;
  out.replied = (await client.conversations.replyToActivity(conv, out.sent, activity('reply from the sdk'))).id;
  out.updated = (await client.conversations.updateActivity(conv, out.sent, { ...activity('edited by the sdk'), id: out.sent })).id;
  await client.conversations.deleteActivity(conv, out.replied);
  out.deleted = true;
  out.notFound = await rejected(client.conversations.deleteActivity(conv, out.replied));

  // 3. Without credentials the fake refuses the call.
  const anonymous = new ConnectorClient(MsalAppCredentials.Empty, { baseUri: cfg.serviceUrl });
  out.anonymous = await rejected(anonymous.conversations.sendToConversation(conv, activity('anonymous')));

  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: String((e && e.stack) || e) }) + '\n');
  process.exit(1);
});
