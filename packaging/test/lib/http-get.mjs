// GET one URL for the install tests (curl is not guaranteed on CI hosts, node is).
//   node http-get.mjs <url> [--ca FILE] [--cert FILE] [--key FILE] [--insecure] [--timeout MS]
// Prints "<status>\n<body>" and exits 0 when any HTTP response arrived, 1 on connection errors.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [url, ...rest] = process.argv.slice(2);
const opts = { timeout: 3000 };
for (let i = 0; i < rest.length; i++) {
  const a = rest[i];
  if (a === '--insecure') opts.rejectUnauthorized = false;
  else if (a === '--timeout') opts.timeout = Number(rest[++i]);
  else if (a === '--ca' || a === '--cert' || a === '--key')
    opts[a.slice(2)] = fs.readFileSync(rest[++i]);
  else {
    process.stderr.write(`http-get: unknown option ${a}\n`);
    process.exit(2);
  }
}
const lib = url.startsWith('https:') ? https : http;
const req = lib.get(url, opts, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    process.stdout.write(`${res.statusCode}\n${Buffer.concat(chunks).toString('utf8')}\n`);
    process.exit(0);
  });
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => {
  process.stderr.write(`http-get: ${e.message}\n`);
  process.exit(1);
});
