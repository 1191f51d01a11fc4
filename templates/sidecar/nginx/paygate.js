/*
 * pay-gate sidecar for nginx (njs >= 0.7): every request of a location that says
 * `js_content paygate.serve` is first asked about at the gate's /__pay/check,
 * with its body; a refusal is sent to the client as the gate wrote it (status,
 * headers, body: a 402 with PAYMENT-REQUIRED, or an MCP -32402 answer); an
 * allowed call goes to the origin, and the outcome is reported to /__pay/settle,
 * which charges the hold when the origin answered below 400 and releases it
 * otherwise. Set per location (see nginx.conf):
 *   $paygate_gate    the gate, e.g. http://127.0.0.1:8787
 *   $paygate_origin  the origin, e.g. http://127.0.0.1:3000
 *   $paygate_token   the gate's SIDECAR_TOKEN
 *
 * Why njs and not auth_request: auth_request turns any answer but 2xx/401/403
 * into a 500 and never forwards the body, so a client could not see a 402 nor
 * its PAYMENT-REQUIRED header, nor an MCP JSON-RPC answer.
 *
 * The gate is asked with ngx.fetch; the origin is called through the internal
 * location /__paygate_origin (a subrequest: nginx's own proxy, whose answer njs
 * can read whole, headers and all). What the gate vouches for (X-Pay-*) reaches
 * that location as arguments, where proxy_set_header puts it on the request.
 *
 * Pitfall: the origin's answer is buffered in nginx (subrequest_output_buffer_size):
 * no streaming (SSE) through this handler. Proxy long-lived streams (MCP GET,
 * which is free) with a plain proxy_pass.
 */

/* Headers the gate's check answer may carry, by what they are for (njs 0.7 cannot list a fetch answer's headers). */
var CHECK_ANSWER_HEADERS = ['content-type', 'cache-control', 'www-authenticate', 'retry-after', 'allow', 'payment-required',
  'payment-response', 'x-credits-remaining', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
/* What the gate tells the origin on a paid call; nginx.conf sets each from $arg_<name with _>. */
var TO_ORIGIN = ['x-pay-verified', 'x-pay-rail', 'x-pay-from', 'x-pay-amount', 'x-pay-asset', 'x-pay-network', 'x-pay-dev-mode'];
/* What the client learns on a paid call. */
var TO_CLIENT = ['x-credits-remaining', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'payment-response'];
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

function send(r, status, headers, body) {
  for (var name in headers) r.headersOut[name] = headers[name];
  r.return(status, body);
}

async function serveInner(r) {
  var gate = r.variables.paygate_gate;
  var token = r.variables.paygate_token;
  if (r.variables.request_body_file) {
    // The body went to a temp file: njs cannot read it, so it cannot be priced.
    return json(r, 413, 'body_too_large', 'The request body is too large.');
  }
  var body = r.requestBuffer;
  var hasBody = body !== undefined && body.length > 0;

  var headers = clientHeaders(r);
  // ngx.fetch does not decompress: the gate's answer must come as it is sent on.
  headers['accept-encoding'] = 'identity';
  headers['x-pay-sidecar-token'] = token;
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
    var refusal = {};
    CHECK_ANSWER_HEADERS.forEach(function (name) {
      var value = check.headers.get(name);
      if (value !== null) refusal[name] = value;
    });
    return send(r, Number(check.headers.get('x-pay-client-status')) || check.status, refusal, Buffer.from(checkBody));
  }

  // Allowed: call the origin, with what the gate verified.
  var args = [];
  for (var i = 0; i < TO_ORIGIN.length; i++) {
    var value = check.headers.get(TO_ORIGIN[i]);
    if (value === null) continue;
    if (/[&=%#\s+]/.test(value)) return json(r, 502, 'internal_error', 'The gate sent a header value nginx cannot pass on.');
    args.push(TO_ORIGIN[i].replace(/-/g, '_') + '=' + value);
  }
  var reservation = check.headers.get('x-pay-reservation');
  var options = { method: r.method };
  if (args.length) options.args = args.join('&');
  if (hasBody) options.body = r.requestText;
  var reply = await r.subrequest('/__paygate_origin', options);
  // nginx answers a subrequest it could not complete (origin down, answer too large) with 5xx itself.
  var status = reply.status;
  if (reservation) {
    try {
      var settled = await ngx.fetch(gate + '/__pay/settle', {
        method: 'POST',
        headers: { 'x-pay-sidecar-token': token, 'x-pay-reservation': reservation, 'x-pay-upstream-status': String(status) },
      });
      if (settled.status !== 200) r.error('paygate: settle answered ' + settled.status + ': ' + (await settled.text()));
    } catch (e) {
      // The hold then expires on its own: the call is not charged, never charged twice.
      r.error('paygate: settle failed (the hold will expire uncharged): ' + e.message);
    }
  }
  var out = {};
  for (var name in reply.headersOut) {
    if (HOP.indexOf(name.toLowerCase()) === -1) out[name] = reply.headersOut[name];
  }
  if (status < 400) {
    TO_CLIENT.forEach(function (header) {
      var passed = check.headers.get(header);
      if (passed !== null) out[header] = passed;
    });
  }
  send(r, status, out, reply.responseBuffer || Buffer.from(''));
}

async function serve(r) {
  try {
    await serveInner(r);
  } catch (e) {
    r.error('paygate: ' + (e && e.stack ? e.stack : String(e)));
    json(r, 500, 'internal_error', 'Internal error.');
  }
}

export default { serve };
