// The License Manager buyer journey with the AWS SDK for JavaScript v3, against a mockcloud server.
//
// MOCKCLOUD_URL names the server. The seller signs with the default test keys (account 123456789012); the
// buyer's keys are registered for account 210987654321 through the admin API, and a Marketplace subscription
// is made through the licensemanager service's subscribe helper. It prints one JSON line per step
// ({step, ok, code, status, message, ...}) and exits non-zero if a step did not answer as AWS answers.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  AcceptGrantCommand,
  CheckInLicenseCommand,
  CheckoutLicenseCommand,
  CreateGrantCommand,
  CreateGrantVersionCommand,
  CreateLicenseCommand,
  CreateLicenseVersionCommand,
  DeleteGrantCommand,
  DeleteLicenseCommand,
  ExtendLicenseConsumptionCommand,
  GetGrantCommand,
  GetLicenseCommand,
  LicenseManagerClient,
  ListReceivedGrantsCommand,
  ListReceivedLicensesCommand,
} from "@aws-sdk/client-license-manager";
import { fails, ok, report } from "./steps.mjs";

const url = process.env.MOCKCLOUD_URL;
assert.ok(url, "MOCKCLOUD_URL must name the mockcloud server");
const region = "us-east-1";
const BUYER = "210987654321";
const FINGERPRINT = "aws:123456789012:Widget Co:issuer-fingerprint";
const MARKETPLACE = "aws:294406891311:AWS/Marketplace:issuer-fingerprint";
const SKU = "WIDGET-JS-PRO";
const buyerKeys = { accessKeyId: `AKIA${BUYER}TEST`, secretAccessKey: "buyer-secret-js" };

async function admin(method, path, body) {
  const reply = await fetch(`${url}/_mockcloud/${path}`, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  assert.equal(reply.status, 200, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

await admin("POST", "credentials", {
  aws: [{ access_key_id: buyerKeys.accessKeyId, secret_access_key: buyerKeys.secretAccessKey, account_id: BUYER }],
});
const seller = new LicenseManagerClient({
  region,
  endpoint: url,
  maxAttempts: 1,
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
});
const buyer = new LicenseManagerClient({ region, endpoint: url, maxAttempts: 1, credentials: buyerKeys });
const checkout = (fingerprint, sku, entitlements) =>
  buyer.send(
    new CheckoutLicenseCommand({
      ProductSKU: sku,
      CheckoutType: "PROVISIONAL",
      KeyFingerprint: fingerprint,
      Entitlements: entitlements,
      ClientToken: randomUUID(),
    }),
  );
const seat = [{ Name: "Seats", Unit: "Count", Value: "1" }];

// 1. the seller: a license, granted to the buyer's account
const { LicenseArn } = await ok(
  "CreateLicense",
  seller.send(
    new CreateLicenseCommand({
      LicenseName: "Widget JS Pro",
      ProductName: "Widget",
      ProductSKU: SKU,
      Issuer: { Name: "Widget Co" },
      HomeRegion: region,
      Validity: { Begin: "2024-01-01T00:00:00Z" },
      Beneficiary: `arn:aws:iam::${BUYER}:root`,
      Entitlements: [{ Name: "Seats", Unit: "Count", MaxCount: 1, AllowCheckIn: true }],
      ConsumptionConfiguration: { RenewType: "None", ProvisionalConfiguration: { MaxTimeToLiveInMinutes: 60 } },
      ClientToken: randomUUID(),
    }),
  ),
);
const { GrantArn } = await ok(
  "CreateGrant",
  seller.send(
    new CreateGrantCommand({
      GrantName: "Widget JS for the buyer",
      LicenseArn,
      Principals: [`arn:aws:iam::${BUYER}:root`],
      HomeRegion: region,
      AllowedOperations: ["CheckoutLicense", "CheckInLicense", "ExtendConsumptionLicense"],
      ClientToken: randomUUID(),
    }),
  ),
);

// 2. the buyer: the grant received, accepted, activated; the license received
const received = await ok("ListReceivedGrants", buyer.send(new ListReceivedGrantsCommand({})), (o) => ({
  grants: o.Grants.map((g) => [g.GrantArn === GrantArn, g.GrantStatus]),
}));
assert.equal(received.Grants.length, 1);
await fails("CheckoutLicense (pending grant)", checkout(FINGERPRINT, SKU, seat), "NoEntitlementsAllowedException", 400);
await ok("AcceptGrant", buyer.send(new AcceptGrantCommand({ GrantArn })), (o) => ({ status: o.Status }));
await ok(
  "CreateGrantVersion (activate)",
  buyer.send(new CreateGrantVersionCommand({ GrantArn, Status: "ACTIVE", ClientToken: randomUUID() })),
  (o) => ({ status: o.Status }),
);
await ok("ListReceivedLicenses", buyer.send(new ListReceivedLicensesCommand({})), (o) => ({
  licenses: o.Licenses.map((l) => [l.LicenseArn === LicenseArn, l.ReceivedMetadata.ReceivedStatus]),
}));

// 3. checkout by fingerprint and SKU, no beneficiary; extend; check in
const out = await ok("CheckoutLicense", checkout(FINGERPRINT, SKU, seat), (o) => ({
  signedTokenLength: o.SignedToken.length,
  alg: JSON.parse(Buffer.from(o.SignedToken.split(".")[0], "base64url")).alg,
  issuedAt: o.IssuedAt,
}));
await fails("CheckoutLicense (no seat left)", checkout(FINGERPRINT, SKU, seat), "NoEntitlementsAllowedException", 400);
await ok(
  "ExtendLicenseConsumption",
  buyer.send(new ExtendLicenseConsumptionCommand({ LicenseConsumptionToken: out.LicenseConsumptionToken })),
);
await ok(
  "CheckInLicense",
  buyer.send(new CheckInLicenseCommand({ LicenseConsumptionToken: out.LicenseConsumptionToken })),
);

// 4. a new version: two seats
const current = (await seller.send(new GetLicenseCommand({ LicenseArn }))).License;
await ok(
  "CreateLicenseVersion",
  seller.send(
    new CreateLicenseVersionCommand({
      LicenseArn,
      LicenseName: current.LicenseName,
      ProductName: current.ProductName,
      Issuer: { Name: current.Issuer.Name },
      HomeRegion: current.HomeRegion,
      Validity: current.Validity,
      Entitlements: [{ Name: "Seats", Unit: "Count", MaxCount: 2, AllowCheckIn: true }],
      ConsumptionConfiguration: current.ConsumptionConfiguration,
      Status: "AVAILABLE",
      SourceVersion: current.Version,
      ClientToken: randomUUID(),
    }),
  ),
  (o) => ({ version: o.Version }),
);
await ok("CheckoutLicense (two seats)", checkout(FINGERPRINT, SKU, [{ Name: "Seats", Unit: "Count", Value: "2" }]));

// 5. the grant deleted: the license is no longer the buyer's
const { Grant } = await seller.send(new GetGrantCommand({ GrantArn }));
await ok("DeleteGrant", seller.send(new DeleteGrantCommand({ GrantArn, Version: Grant.Version })));
await fails("CheckoutLicense (deleted grant)", checkout(FINGERPRINT, SKU, seat), "ResourceNotFoundException", 400);
await ok("DeleteLicense", seller.send(new DeleteLicenseCommand({ LicenseArn, SourceVersion: "2" })), (o) => ({
  status: o.Status,
}));

// 6. the Marketplace check: a subscription, then CheckoutLicense with Marketplace's fingerprint
const { result: subscription } = await admin("POST", "services/licensemanager/subscribe", {
  buyer_account: BUYER,
  product_sku: "prod-js1234567890",
  entitlements: [{ Name: "Users", Unit: "Count", MaxCount: 10, AllowCheckIn: true }],
});
const marketplace = await ok(
  "CheckoutLicense (Marketplace)",
  checkout(MARKETPLACE, "prod-js1234567890", [{ Name: "Users", Unit: "Count", Value: "1" }]),
  (o) => ({ license: o.LicenseArn === subscription.license_arn }),
);
assert.equal(marketplace.LicenseArn, subscription.license_arn);
report("done", { ok: true });
