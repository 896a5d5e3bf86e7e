// Types every User-Agent of uap-core's tests/test_device.yaml with
// ua-parser-js 2.x, the reference of TestDeviceType_AgreesWithUAParserJS.
// A test tool only: ua-parser-js is not part of Crumb.
//
//   node uaparser-reference.cjs test_device.yaml devices.json
const fs = require('fs');
const yaml = require('js-yaml');
const path = require('path');
const { UAParser } = require('ua-parser-js');
// The package's version, from its package.json (not in its exports).
let dir = path.dirname(require.resolve('ua-parser-js'));
while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;

const doc = yaml.load(fs.readFileSync(process.argv[2], 'utf8'));
const out = doc.test_cases.map((c) => {
  const r = new UAParser(c.user_agent_string).getResult();
  return { ua: c.user_agent_string, type: r.device.type || '', os: r.os.name || '' };
});
fs.writeFileSync(process.argv[3], JSON.stringify({ uaparser: version, cases: out }));
console.log(`${out.length} user agents typed by ua-parser-js ${version}`);
