/*
 * pay-gate sidecar for nginx (njs >= 0.7): every request of a location that says
 * `js_content paygate.serve` is first asked about at the gate's /__pay/check,
 * with its body. A refusal is sent to the client as the gate wrote it (status,
 * headers, body: a 402 with PAYMENT-REQUIRED, or an MCP -32402 answer). An
 * allowed call is handed, by an internal redirect, to the named location
 * @paygate_origin, where nginx's own proxy streams the origin's answer (SSE
 * included) as it comes. Two filters there watch the answer go by, and
 * `post_action` sends the follow-up to /__pay/settle once it is over: charged
 * when the origin answered below 400 and the answer reached its end, released
 * otherwise. Set per server (see nginx.conf):
 *   $paygate_gate    the gate, e.g. http://127.0.0.1:8787
 *   $paygate_token   the gate's SIDECAR_TOKEN
 *
 * Why njs and not auth_request: auth_request turns any answer but 2xx/401/403
 * into a 500 and never forwards the body, so a client could not see a 402 nor
 * its PAYMENT-REQUIRED header, nor an MCP JSON-RPC answer.
 *
 * What the gate vouches for (X-Pay-*), the reservation and what the client may
 * learn are handed to nginx.conf in js_var variables, which survive the redirect.
 */

/* Headers the gate's check answer may carry, by what they are for (njs 0.7 cannot list a fetch answer's headers). */
var CHECK_ANSWER_HEADERS = ['content-type', 'cache-control', 'www-authenticate', 'retry-after', 'allow', 'payment-required',
  'payment-response', 'x-credits-remaining', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
/* The check answer's headers that nginx.conf uses, each into the js_var $paygate_<name with _>. */
var PASSED_ON = [
  // To the origin, on a paid call.
  'x-pay-verified', 'x-pay-rail', 'x-pay-from', 'x-pay-amount', 'x-pay-asset', 'x-pay-network', 'x-pay-dev-mode',
  // To the client, on an answer below 400 (add_header without `always`).
  'x-credits-remaining', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'payment-response',
  // To the follow-up.
  'x-pay-reservation'];
/* Set by this handler only: a client's own would describe another request. */
var ORIGINAL = ['x-original-uri', 'x-original-method', 'x-forwarded-uri', 'x-forwarded-method', 'x-forwarded-host', 'x-forwarded-proto'];
var HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length'];

function json(r, status, code, message) {
  r.headersOut['Content-Type'] = 'application/json';
  r.return(status, JSON.stringify({ error: { code: code, message: message } }));
}

/* The client's headers, for the check (it needs the key, the payment, Idempotency-Key, Content-Type). */
function clientHeaders(r) {
  var out = {};
  var raw = r.rawHeadersIn;
  for (var i = 0; i < raw.length; i++) {
    var name = raw[i][0].toLowerCase();
    if (HOP.indexOf(name) !== -1 || ORIGINAL.indexOf(name) !== -1 || name.indexOf('x-pay-') === 0) continue;
    out[name] = out[name] === undefined ? raw[i][1] : out[name] + ', ' + raw[i][1];
  }
  return out;
}

async function serveInner(r) {
  var gate = r.variables.paygate_gate;
  if (r.variables.request_body_file) {
    // The body went to a temp file: njs cannot read it, so it cannot be priced.
    return json(r, 413, 'body_too_large', 'The request body is too large.');
  }
  var body = r.requestBuffer;
  var hasBody = body !== undefined && body.length > 0;

  var headers = clientHeaders(r);
  // ngx.fetch does not decompress: the gate's answer must come as it is sent on.
  headers['accept-encoding'] = 'identity';
  headers['x-pay-sidecar-token'] = r.variables.paygate_token;
  headers['x-original-method'] = r.method;
  headers['x-original-uri'] = r.variables.request_uri;
  headers['x-forwarded-host'] = r.headersIn.host || '';
  headers['x-forwarded-proto'] = r.variables.scheme;
  var check;
  var checkBody;
  try {
    var request = { method: hasBody ? 'POST' : 'GET', headers: headers };
    if (hasBody) request.body = body;
    check = await ngx.fetch(gate + '/__pay/check', request);
    checkBody = await check.arrayBuffer();
  } catch (e) {
    r.error('paygate: the gate cannot be reached: ' + e.message);
    return json(r, 503, 'ledger_unavailable', 'Payments cannot be checked right now; nothing was charged.');
  }
  if (check.status !== 200) {
    // The gate's own answer. MCP refusals come as 402: the client gets the 200 the gate would send.
    for (var i = 0; i < CHECK_ANSWER_HEADERS.length; i++) {
      var shown = check.headers.get(CHECK_ANSWER_HEADERS[i]);
      if (shown !== null) r.headersOut[CHECK_ANSWER_HEADERS[i]] = shown;
    }
    return r.return(Number(check.headers.get('x-pay-client-status')) || check.status, Buffer.from(checkBody));
  }
  // Allowed: hand the call to nginx's proxy, with what the gate said.
  for (var j = 0; j < PASSED_ON.length; j++) {
    var value = check.headers.get(PASSED_ON[j]);
    if (value !== null) r.variables['paygate_' + PASSED_ON[j].replace(/-/g, '_')] = value;
  }
  r.internalRedirect('@paygate_origin');
}

async function serve(r) {
  try {
    await serveInner(r);
  } catch (e) {
    r.error('paygate: ' + (e && e.stack ? e.stack : String(e)));
    json(r, 500, 'internal_error', 'Internal error.');
  }
}

/*
 * js_header_filter of @paygate_origin. A HEAD answer has no body for the body
 * filter to see the end of: its headers are all of it.
 */
function answerHeaders(r) {
  if (r.method === 'HEAD' && r.status < 400) r.variables.paygate_outcome = 'served';
}

/*
 * js_body_filter of @paygate_origin: passes every piece on as it comes (no
 * buffering) and notes when the last one went by. An origin that breaks off its
 * answer (a cut stream, a reset) never sends the last piece, and neither does
 * a client that hangs up first, so such calls are not charged on credits
 * (nginx.conf settles x402 on the status alone, as the gate does).
 */
function answerBody(r, data, flags) {
  if (flags.last && r.status < 400) r.variables.paygate_outcome = 'served';
  r.sendBuffer(data, flags);
}

export default { serve, answerHeaders, answerBody };
