// What the journey scripts share: one JSON line per step on stdout, and the checks of a step's answer.
import assert from "node:assert/strict";

export function report(step, fields) {
  console.log(JSON.stringify({ step, ...fields }));
}

// The step must succeed; `extra(out)` adds fields of its answer to the step's line.
export async function ok(step, promise, extra = () => ({})) {
  const out = await promise;
  report(step, { ok: true, ...extra(out) });
  return out;
}

// The step must fail with AWS's error `code` and HTTP `status`.
export async function fails(step, promise, code, status) {
  try {
    await promise;
  } catch (error) {
    const got = { code: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
    report(step, { ok: false, ...got });
    assert.equal(got.code, code, `${step}: ${got.message}`);
    assert.equal(got.status, status, step);
    return got;
  }
  throw new assert.AssertionError({ message: `${step} succeeded; AWS answers ${code}` });
}
