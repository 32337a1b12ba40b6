// Runs the official Soniox Node SDK (@soniox/node), unchanged, against the soniox-emulator
// binary. Only the SDK's base URL points at the emulator. Covered: upload, create with a
// webhook (verified by the SDK's own webhook helper), wait, the transcript, list with
// pagination, count, delete, and the SDK's handling of 400/401/404/409.
//
// Run it (the SDK version is pinned; the script exits non-zero on the first failure):
//
//   npm install --prefix target/compat-node @soniox/node@2.3.0
//   cargo build -p soniox-emulator
//   NODE_PATH=target/compat-node/node_modules SONIOX_EMULATOR_BIN=target/debug/soniox-emulator \
//     node crates/soniox-emulator/tests/compat/node_sdk.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

// NODE_PATH is honoured by require(), not by ES module imports.
const { SonioxNodeClient, SonioxHttpError } = createRequire(import.meta.url)('@soniox/node');

const API_KEY = 'compat-key';
const AUTH = { name: 'X-Soniox-Webhook-Secret', value: 'compat-secret' };

function wav(milliseconds) {
  const rate = 16000;
  const samples = (rate * milliseconds) / 1000;
  const buffer = Buffer.alloc(44 + samples * 2);
  buffer.write('RIFF', 0);
  buffer.writeUInt32LE(36 + samples * 2, 4);
  buffer.write('WAVEfmt ', 8);
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20);
  buffer.writeUInt16LE(1, 22);
  buffer.writeUInt32LE(rate, 24);
  buffer.writeUInt32LE(rate * 2, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write('data', 36);
  buffer.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) buffer.writeInt16LE((i % 64) * 100, 44 + i * 2);
  return buffer;
}

async function expectStatus(status, action) {
  try {
    await action();
  } catch (error) {
    assert.ok(error instanceof SonioxHttpError, `expected SonioxHttpError, got ${error}`);
    assert.equal(error.statusCode, status, `${error}`);
    return;
  }
  assert.fail(`expected HTTP ${status}`);
}

async function startEmulator() {
  const emulator = spawn(process.env.SONIOX_EMULATOR_BIN, [
    '--addr', '127.0.0.1:0', '--api-key', API_KEY, '--processing', 'manual',
    '--webhook-retry-schedule', '0s,100ms', '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: emulator.stdout });
  const [line] = await Promise.race([
    new Promise((resolve) => lines.once('line', (first) => resolve([first]))),
    new Promise((_, reject) => emulator.once('exit', (code) => reject(new Error(`emulator exited: ${code}`)))),
  ]);
  assert.match(line, /^listening on http:\/\//);
  return { emulator, baseUrl: line.slice('listening on '.length) };
}

async function advance(baseUrl) {
  const response = await fetch(`${baseUrl}/_emulator/jobs/advance`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  assert.equal(response.status, 200);
}

async function main() {
  const { emulator, baseUrl } = await startEmulator();
  try {
    const client = new SonioxNodeClient({ api_key: API_KEY, base_url: baseUrl });

    // A receiver that verifies deliveries with the SDK's own webhook handler.
    const deliveries = [];
    let delivered;
    const arrived = new Promise((resolve) => { delivered = resolve; });
    const receiver = createServer(async (request, response) => {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      const body = Buffer.concat(chunks).toString('utf8');
      const result = client.webhooks.handle({
        method: request.method, headers: request.headers, body: JSON.parse(body), auth: AUTH,
      });
      response.statusCode = result.status;
      response.end();
      if (result.ok) {
        deliveries.push({ url: request.url, event: result.event });
        delivered();
      }
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${receiver.address().port}/hooks/soniox?order=1234&note=a%20b`;

    const file = await client.files.upload(wav(2000), { filename: 'speech.wav' });
    assert.equal(file.filename, 'speech.wav');
    const created = await client.stt.create({
      model: 'stt-async-v5', file_id: file.id, webhook_url: hook,
      webhook_auth_header_name: AUTH.name, webhook_auth_header_value: AUTH.value,
    });
    assert.equal(created.status, 'queued');
    await expectStatus(409, () => client.stt.delete(created.id));
    await advance(baseUrl);
    await advance(baseUrl);
    const done = await client.stt.wait(created.id, { interval_ms: 1000, timeout_ms: 10000 });
    assert.equal(done.status, 'completed');
    assert.equal(done.audio_duration_ms, 2000);

    await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error('no webhook')), 10000).unref())]);
    assert.equal(deliveries[0].url, '/hooks/soniox?order=1234&note=a%20b');
    assert.equal(deliveries[0].event.id, created.id);
    assert.equal(deliveries[0].event.status, 'completed');

    const transcript = await client.stt.getTranscript(created.id);
    assert.ok(transcript.text.length > 0 && transcript.tokens.length > 0);
    assert.equal(transcript.tokens.map((token) => token.text).join(''), transcript.text);

    const ids = new Set([created.id]);
    for (let i = 0; i < 4; i++) {
      ids.add((await client.stt.create({ model: 'stt-async-v5', file_id: file.id })).id);
    }
    const listed = new Set();
    for await (const transcription of await client.stt.list({ limit: 2 })) listed.add(transcription.id);
    assert.deepEqual(listed, ids);
    assert.equal((await client.stt.count()).total, 5);
    const files = [];
    for await (const item of await client.files.list({ limit: 1 })) files.push(item);
    assert.equal(files.length, 1);

    await expectStatus(400, () => client.stt.create({ model: 'stt-rt-v4', file_id: file.id }));
    // The SDK turns a 404 into `null` on get (and ignores it on delete).
    assert.equal(await client.stt.get('b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11'), null);
    assert.equal(await client.files.get('b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11'), null);
    const wrong = new SonioxNodeClient({ api_key: 'wrong-key', base_url: baseUrl });
    await expectStatus(401, () => wrong.files.list());

    await advance(baseUrl);
    await advance(baseUrl);
    for (const id of ids) await client.stt.delete(id);
    await client.files.delete(file.id);
    assert.equal((await client.stt.count()).total, 0);
    assert.equal((await client.files.count()).total, 0);
    receiver.close();
    console.log('node SDK compatibility: ok');
  } finally {
    emulator.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
