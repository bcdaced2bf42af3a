// A stand-in for the app's own Node functions (codebase `default` in production: chatWithAI,
// allocateStaffCode, ...). Tests serve it beside our Python codebase from one firebase.json to
// prove the two coexist: both load, both answer. It is never deployed.
const { onCall, HttpsError } = require("firebase-functions/v2/https");

exports.allocateStaffCode = onCall({ region: "us-central1" }, (request) => {
  if (!request.auth) {
    throw new HttpsError("unauthenticated", "Sign in first.");
  }
  const teamId = request.data && request.data.teamId;
  if (typeof teamId !== "string" || teamId === "") {
    throw new HttpsError("invalid-argument", "teamId is required.");
  }
  return { ok: true, codebase: "default", teamId, uid: request.auth.uid };
});
