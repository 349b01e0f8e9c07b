// The License Manager token journey with the AWS SDK for JavaScript v3, against a mockcloud server.
//
// MOCKCLOUD_URL names the server. The script moves the server's clock with POST /_mockcloud/clock and moves
// every client's signing clock by the same amount (systemClockOffset), as a client whose host clock moved
// would. It prints one JSON line per step ({step, ok, code, status, message}) and exits non-zero if a step
// did not answer as AWS answers.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  CheckInLicenseCommand,
  CheckoutLicenseCommand,
  CreateLicenseCommand,
  CreateTokenCommand,
  ExtendLicenseConsumptionCommand,
  GetAccessTokenCommand,
  GetLicenseUsageCommand,
  LicenseManagerClient,
} from "@aws-sdk/client-license-manager";
import { fails, ok, report } from "./steps.mjs";
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

const url = process.env.MOCKCLOUD_URL;
assert.ok(url, "MOCKCLOUD_URL must name the mockcloud server");
const ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole";
const FINGERPRINT = "aws:123456789012:Widget Co:issuer-fingerprint";
const SKU = "WIDGET-JS";
const region = "us-east-1";
const clients = [];
let offsetMs = 0;

function client(Kind, extra = {}) {
  const made = new Kind({ region, endpoint: url, maxAttempts: 1, systemClockOffset: offsetMs, ...extra });
  clients.push(made);
  return made;
}
const keys = (c) => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken });
const seller = client(LicenseManagerClient, { credentials: { accessKeyId: "testing", secretAccessKey: "testing" } });
// the customer's application has no AWS keys: GetAccessToken is authenticated by the refresh token alone
const anonymous = client(LicenseManagerClient, {
  httpAuthSchemes: [{ schemeId: "smithy.api#noAuth", identityProvider: () => async () => ({}), signer: { sign: async (r) => r } }],
  httpAuthSchemeProvider: () => [{ schemeId: "smithy.api#noAuth" }],
});
const sts = client(STSClient, { credentials: { accessKeyId: "unused", secretAccessKey: "unused" } });

async function advance(seconds) {
  const reply = await fetch(`${url}/_mockcloud/clock`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ advance: seconds }),
  });
  assert.equal(reply.status, 200);
  offsetMs += seconds * 1000;
  for (const c of clients) c.config.systemClockOffset = offsetMs;
}

const checkout = (lm) =>
  lm.send(
    new CheckoutLicenseCommand({
      ProductSKU: SKU,
      CheckoutType: "PROVISIONAL",
      KeyFingerprint: FINGERPRINT,
      Beneficiary: "customer@example.com",
      Entitlements: [{ Name: "Seats", Unit: "Count", Value: "1" }],
      ClientToken: randomUUID(),
    }),
  );
const assume = (token) =>
  sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: ROLE, RoleSessionName: "widget-js", WebIdentityToken: token }));

// 1. the seller
const { LicenseArn } = await ok(
  "CreateLicense",
  seller.send(
    new CreateLicenseCommand({
      LicenseName: "Widget JS",
      ProductName: "Widget",
      ProductSKU: SKU,
      Issuer: { Name: "Widget Co" },
      HomeRegion: region,
      Validity: { Begin: "2024-01-01T00:00:00Z" },
      Beneficiary: "arn:aws:iam::123456789012:root",
      Entitlements: [{ Name: "Seats", Unit: "Count", MaxCount: 1 }],
      ConsumptionConfiguration: { RenewType: "None", ProvisionalConfiguration: { MaxTimeToLiveInMinutes: 120 } },
      ClientToken: randomUUID(),
    }),
  ),
);
const { Token: refresh } = await ok(
  "CreateToken",
  seller.send(new CreateTokenCommand({ LicenseArn, RoleArns: [ROLE], ClientToken: randomUUID() })),
);

// 2. the customer's application
let { AccessToken: access } = await ok("GetAccessToken", anonymous.send(new GetAccessTokenCommand({ Token: refresh })));
await advance(30 * 60);
let assumed = await ok("AssumeRoleWithWebIdentity", assume(access));
assert.match(assumed.Credentials.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
let app = client(LicenseManagerClient, { credentials: keys(assumed.Credentials) });
const who = await ok("GetCallerIdentity", client(STSClient, { credentials: keys(assumed.Credentials) }).send(new GetCallerIdentityCommand({})));
assert.equal(who.Arn, "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/widget-js");

// 3. consumption on the temporary credentials
const first = await ok("CheckoutLicense", checkout(app));
const consumption = first.LicenseConsumptionToken;
await fails("CheckoutLicense (no seat left)", checkout(app), "NoEntitlementsAllowedException", 400);
await advance(20 * 60);
await ok("ExtendLicenseConsumption", app.send(new ExtendLicenseConsumptionCommand({ LicenseConsumptionToken: consumption })));

// 4a. past the access token's hour
await advance(11 * 60 + 1);
await fails("AssumeRoleWithWebIdentity (expired access token)", assume(access), "ExpiredTokenException", 400);
({ AccessToken: access } = await ok("GetAccessToken (again)", anonymous.send(new GetAccessTokenCommand({ Token: refresh }))));

// 4b. past the role session's expiry
await advance(30 * 60);
await fails(
  "ExtendLicenseConsumption (expired session)",
  app.send(new ExtendLicenseConsumptionCommand({ LicenseConsumptionToken: consumption })),
  "ExpiredTokenException",
  403,
);
assumed = await ok("AssumeRoleWithWebIdentity (again)", assume(access));
app = client(LicenseManagerClient, { credentials: keys(assumed.Credentials) });
await ok("ExtendLicenseConsumption (new session)", app.send(new ExtendLicenseConsumptionCommand({ LicenseConsumptionToken: consumption })));

// 4c. past the consumption's time to live
await advance(121 * 60);
({ AccessToken: access } = await ok("GetAccessToken (third)", anonymous.send(new GetAccessTokenCommand({ Token: refresh }))));
assumed = await ok("AssumeRoleWithWebIdentity (third)", assume(access));
app = client(LicenseManagerClient, { credentials: keys(assumed.Credentials) });
await fails(
  "ExtendLicenseConsumption (expired checkout)",
  app.send(new ExtendLicenseConsumptionCommand({ LicenseConsumptionToken: consumption })),
  "ResourceNotFoundException",
  400,
);
const usage = await ok("GetLicenseUsage", seller.send(new GetLicenseUsageCommand({ LicenseArn })));
assert.equal(usage.LicenseUsage.EntitlementUsages[0].ConsumedValue, "0");
const again = await ok("CheckoutLicense (again)", checkout(app));
await ok(
  "CheckInLicense",
  app.send(new CheckInLicenseCommand({ LicenseConsumptionToken: again.LicenseConsumptionToken, Beneficiary: "customer@example.com" })),
);
report("done", { ok: true });
