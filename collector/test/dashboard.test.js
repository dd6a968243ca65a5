// docs/observability/collector_grafana_dashboard.json: an importable Grafana dashboard (JSON API data
// source) whose every query reads a field the collector's status server really answers.
//
// The structure is checked the way Grafana's import reads it (`__inputs` for the data source,
// `__requires` for the plugin and every panel type, unique panel ids, grid positions, each target's
// data source the input). The fields are checked against a real answer: the status server is started
// on 127.0.0.1 with a few counted batches and a failure, `GET /metrics` is read, and each panel's
// JSONPath must find its field there, with the type the panel declares. The Prometheus metric names
// the panels' descriptions and the alerts text name must be in `GET /metrics?format=prometheus`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { COUNTERS, STATES, createMetrics } from '../src/metrics.js';
import { startStatusServer } from '../src/status.js';

const DASHBOARD = new URL('../../docs/observability/collector_grafana_dashboard.json', import.meta.url);
const PLUGIN = 'marcusolsson-json-datasource';
const INPUT = 'DS_WHATSAPP_COLLECTOR';
const FIELD_TYPES = new Set([undefined, 'number', 'string', 'time', 'boolean']);

async function load() {
  return JSON.parse(await readFile(DASHBOARD, 'utf8'));
}

/** Every panel that is not a row, nested rows' panels included. */
function contentPanels(dashboard) {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? (panel.panels ?? []) : [panel]));
}

/** Every panel with queries (rows and text panels excluded). */
function queryPanels(dashboard) {
  return contentPanels(dashboard).filter((panel) => panel.type !== 'text');
}

function allFields(dashboard) {
  return queryPanels(dashboard).flatMap((panel) => panel.targets.flatMap((target) => target.fields
    .map((field) => ({ panel, target, field }))));
}

// ------------------------------------------------------------------------------ a JSONPath subset

const STEP = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\*|\d+)\]/y;

/**
 * The values `path` selects in `document`, for the subset the dashboard may use: `$`, `.key`, `[*]`
 * and `[n]`. A missing key or index selects nothing for that branch; any other syntax throws (so the
 * dashboard cannot use what this test cannot check).
 */
export function jsonpath(document, path) {
  if (typeof path !== 'string' || !path.startsWith('$')) throw new Error(`a JSONPath starts with $: ${path}`);
  let current = [document];
  let position = 1;
  while (position < path.length) {
    STEP.lastIndex = position;
    const match = STEP.exec(path);
    if (!match) throw new Error(`unsupported JSONPath syntax at ${position} in ${path}`);
    const [, key, index] = match;
    const following = [];
    for (const value of current) {
      if (key !== undefined) {
        if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, key)) {
          following.push(value[key]);
        }
      } else if (index === '*') {
        if (Array.isArray(value)) following.push(...value);
      } else if (Array.isArray(value) && Number(index) < value.length) {
        following.push(value[Number(index)]);
      }
    }
    current = following;
    position = STEP.lastIndex;
  }
  return current;
}

/**
 * Whether `path` finds its field: a plain path selects exactly one value (`null` counts: the key is
 * there); a `[*]` path needs a non-empty list whose every element has the rest of the path.
 */
export function pathHolds(document, path) {
  const star = path.indexOf('[*]');
  if (star === -1) return jsonpath(document, path).length === 1;
  const lists = jsonpath(document, path.slice(0, star));
  if (lists.length !== 1 || !Array.isArray(lists[0]) || lists[0].length === 0) return false;
  const tail = path.slice(star + 3);
  return lists[0].every((element) => (tail ? pathHolds(element, `$${tail}`) : true));
}

/** Whether a value found in the answer fits the type the panel reads it as. */
function fitsType(value, type) {
  if (value === null || type === undefined) return true;
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  if (type === 'string') return typeof value === 'string';
  if (type === 'boolean') return typeof value === 'boolean';
  if (type === 'time') return typeof value === 'string' && !Number.isNaN(Date.parse(value));
  return false;
}

/** The fields of `dashboard` the answer lacks or holds with another type: ["panel: path", …]. */
function missingFields(dashboard, answer) {
  const missing = [];
  for (const { panel, target, field } of allFields(dashboard)) {
    const where = `${panel.title}: ${target.urlPath} ${field.jsonPath}`;
    if (!pathHolds(answer, field.jsonPath)) missing.push(`${where} (not in the answer)`);
    else if (!jsonpath(answer, field.jsonPath).every((value) => fitsType(value, field.type))) {
      missing.push(`${where} (not a ${field.type})`);
    }
  }
  return missing;
}

describe('the JSONPath subset', () => {
  const doc = { a: { b: 1, n: null }, l: [{ x: 1 }, { x: 2 }], e: [] };

  test('selects keys, every element and an index', () => {
    assert.deepEqual(jsonpath(doc, '$.a.b'), [1]);
    assert.deepEqual(jsonpath(doc, '$.l[*].x'), [1, 2]);
    assert.deepEqual(jsonpath(doc, '$.l[1].x'), [2]);
    assert.deepEqual(jsonpath(doc, '$.l[5].x'), []);
    assert.deepEqual(jsonpath(doc, '$'), [doc]);
  });

  test('a path holds only when its field is there', () => {
    assert.ok(pathHolds(doc, '$.a.n'));
    assert.ok(!pathHolds(doc, '$.a.c'));
    assert.ok(!pathHolds(doc, '$.a.n.c'));
    assert.ok(pathHolds(doc, '$.l[*].x'));
    assert.ok(!pathHolds(doc, '$.l[*].y'));
    assert.ok(!pathHolds(doc, '$.e[*].x'));
    assert.ok(!pathHolds(doc, '$.a.toString'));
  });

  test('any other syntax is refused', () => {
    for (const path of ['$.l[?(@.x == 1)]', '$..x', '$.a["b"]', 'a.b', '$.l[-1]', '$.l[0:1]', '$.a.']) {
      assert.throws(() => jsonpath(doc, path), /JSONPath/, path);
    }
  });
});

// ------------------------------------------------------------------------------ structure

describe('the dashboard is importable', () => {
  test('title, uid, schema version, no id', async () => {
    const dashboard = await load();
    assert.ok(dashboard.title);
    assert.match(dashboard.uid, /^[A-Za-z0-9_-]{1,40}$/);
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41);
    assert.equal(dashboard.id, null, 'an import creates the id');
    const existing = JSON.parse(await readFile(new URL('../../docs/observability/whatsapp_grafana_dashboard.json',
      import.meta.url), 'utf8'));
    assert.notEqual(dashboard.uid, existing.uid, 'the two dashboards need their own uid');
  });

  test('__inputs names the JSON API data source and __requires the plugin and every panel type', async () => {
    const dashboard = await load();
    assert.equal(dashboard.__inputs.length, 1);
    const [input] = dashboard.__inputs;
    assert.equal(input.name, INPUT);
    assert.equal(input.type, 'datasource');
    assert.equal(input.pluginId, PLUGIN);
    assert.match(input.description, /PORT/);
    const requires = new Set(dashboard.__requires.map((item) => `${item.type}/${item.id}`));
    assert.ok(requires.has('grafana/grafana'));
    assert.ok(requires.has(`datasource/${PLUGIN}`));
    for (const panel of contentPanels(dashboard)) {
      assert.ok(requires.has(`panel/${panel.type}`), `${panel.type} missing from __requires`);
    }
  });

  test('panel ids are unique and every panel has a grid position inside 24 columns, without overlaps', async () => {
    const dashboard = await load();
    const all = [...dashboard.panels, ...dashboard.panels.flatMap((panel) => panel.panels ?? [])];
    const ids = all.map((panel) => panel.id);
    assert.ok(ids.every(Number.isInteger));
    assert.equal(new Set(ids).size, ids.length, `duplicate panel ids: ${ids}`);
    const cells = new Map();
    for (const panel of dashboard.panels) {
      const grid = panel.gridPos;
      assert.ok(grid, `${panel.title}: no gridPos`);
      for (const key of ['h', 'w', 'x', 'y']) assert.ok(Number.isInteger(grid[key]) && grid[key] >= 0, `${panel.title}: gridPos.${key}`);
      assert.ok(grid.w > 0 && grid.h > 0 && grid.x + grid.w <= 24, `${panel.title}: gridPos ${JSON.stringify(grid)}`);
      for (let y = grid.y; y < grid.y + grid.h; y += 1) {
        for (let x = grid.x; x < grid.x + grid.w; x += 1) {
          const other = cells.get(`${x},${y}`);
          assert.equal(other, undefined, `${panel.title} overlaps ${other}`);
          cells.set(`${x},${y}`, panel.title);
        }
      }
    }
  });

  test('every query reads GET /metrics through the input, with checkable fields and no credentials', async () => {
    const dashboard = await load();
    const panels = queryPanels(dashboard);
    assert.ok(panels.length >= 8, `only ${panels.length} panels with queries`);
    for (const panel of contentPanels(dashboard)) assert.ok(panel.title && panel.description, `panel ${panel.id}`);
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, { type: PLUGIN, uid: `\${${INPUT}}` }, panel.title);
      assert.ok(panel.targets?.length, `${panel.title}: no targets`);
      const refs = panel.targets.map((target) => target.refId);
      assert.equal(new Set(refs).size, refs.length, `${panel.title}: duplicate refId`);
      for (const target of panel.targets) {
        assert.deepEqual(target.datasource, panel.datasource, `${panel.title}: target data source`);
        assert.equal(target.method, 'GET');
        assert.equal(target.urlPath, '/metrics', `${panel.title}: reads ${target.urlPath}`);
        assert.ok(!target.queryParams, `${panel.title}: /metrics must answer JSON (no ?format=)`);
        assert.deepEqual(target.headers, [], 'no headers in the dashboard');
        assert.ok(target.fields.length, `${panel.title}: no fields`);
        for (const field of target.fields) {
          assert.ok(field.jsonPath.startsWith('$.'), `${panel.title}: ${field.jsonPath}`);
          assert.ok(FIELD_TYPES.has(field.type), `${panel.title}: field type ${field.type}`);
          assert.ok(field.name, `${panel.title}: ${field.jsonPath} has no name`);
          jsonpath({}, field.jsonPath); // the syntax is in the checked subset
        }
        // a target's fields are read as one frame: all lists or all single values
        assert.equal(new Set(target.fields.map((field) => field.jsonPath.includes('[*]'))).size, 1, panel.title);
      }
      const names = new Set(panel.targets.flatMap((target) => target.fields.map((field) => field.name)));
      for (const transformation of panel.transformations ?? []) {
        if (transformation.id === 'calculateField') {
          const { left, right } = transformation.options.binary;
          assert.ok(names.has(left) && names.has(right), `${panel.title}: ${left} / ${right} are not fields`);
        }
      }
    }
  });
});

describe("the playbook's panels are there", () => {
  test('connection_status is a stat with open green, connecting orange, closed red', async () => {
    const dashboard = await load();
    const panel = queryPanels(dashboard).find((candidate) => candidate.targets
      .some((target) => target.fields.some((field) => field.jsonPath === '$.connection_status')));
    assert.ok(panel, 'no panel reads $.connection_status');
    assert.equal(panel.type, 'stat');
    const colors = Object.assign({}, ...panel.fieldConfig.defaults.mappings
      .filter((mapping) => mapping.type === 'value').map((mapping) => mapping.options));
    assert.equal(colors.open?.color, 'green');
    assert.equal(colors.connecting?.color, 'orange');
    assert.equal(colors.closed?.color, 'red');
  });

  test('the state panel maps every state metrics.js knows', async () => {
    const dashboard = await load();
    const panel = queryPanels(dashboard).find((candidate) => candidate.targets
      .some((target) => target.fields.some((field) => field.jsonPath === '$.state')));
    assert.ok(panel, 'no panel reads $.state');
    const mapped = Object.assign({}, ...panel.fieldConfig.defaults.mappings.map((mapping) => mapping.options));
    for (const state of STATES) assert.ok(mapped[state]?.color, `state ${state} has no colour`);
  });

  test('every counter, the spool, the queue, the state and the last failure are plotted', async () => {
    const paths = new Set(allFields(await load()).map(({ field }) => field.jsonPath));
    const wanted = [
      ...COUNTERS.map((name) => `$.${name}`),
      '$.connection_status', '$.state', '$.state_detail', '$.queue_depth', '$.spool_depth', '$.spool_bytes',
      '$.spool_max_bytes', '$.rejected_depth', '$.last_success_at', '$.last_failure.at', '$.last_failure.status',
      '$.last_failure.request_id',
    ];
    for (const path of wanted) assert.ok(paths.has(path), `no panel reads ${path}`);
  });

  test("the playbook's alerts are written on the dashboard", async () => {
    const dashboard = await load();
    const text = contentPanels(dashboard).filter((panel) => panel.type === 'text')
      .map((panel) => panel.options.content).join('\n');
    assert.match(text, /`connection_status` is not `open` for more than 2 minutes/);
    assert.match(text, /no `batches_success` increment in 10 minutes/);
    assert.match(text, /7\.4/);
    assert.match(text, /\?format=prometheus/);
  });
});

// ------------------------------------------------------------------------------ fields against a real answer

describe("every field is in the status server's real answer", () => {
  let status;
  let answer;
  let prometheus;

  before(async () => {
    const metrics = createMetrics({
      clientId: 'dash-test',
      gauges: () => ({ queue_depth: 2, spool_depth: 1, spool_bytes: 900, spool_max_bytes: 1000, rejected_depth: 0 }),
    });
    metrics.setState('open', 'connected');
    metrics.add('batches_success');
    metrics.succeeded();
    metrics.failed({ status: 500, requestId: 'abc', detail: 'x' });
    status = await startStatusServer({ metrics, host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${status.port}`;
    // the Accept header Grafana's data source proxy sends: the answer must still be JSON
    const response = await fetch(`${base}/metrics`, { headers: { Accept: 'application/json, text/plain, */*' } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    answer = await response.json();
    const text = await fetch(`${base}/metrics?format=prometheus`);
    assert.equal(text.status, 200);
    prometheus = await text.text();
  });

  after(async () => {
    await status?.close();
  });

  test('the answer is the one set up', () => {
    assert.equal(answer.client_id, 'dash-test');
    assert.equal(answer.connection_status, 'open');
    assert.equal(answer.batches_success, 1);
    assert.equal(answer.spool_bytes, 900);
    assert.equal(answer.last_failure.request_id, 'abc');
  });

  test('every JSONPath of every panel finds its field, with the declared type', async () => {
    const missing = missingFields(await load(), answer);
    assert.deepEqual(missing, [], `fields the status server does not answer:\n${missing.join('\n')}`);
  });

  test('the check fails for a panel that points at a missing key or reads a wrong type', async () => {
    assert.ok(!pathHolds(answer, '$.no_such_counter'));
    assert.ok(!pathHolds(answer, '$.last_failure.no_such_field'));
    const broken = await load();
    const panel = queryPanels(broken).find((candidate) => candidate.type === 'stat');
    panel.targets[0].fields.push({ jsonPath: '$.batches_succeeded', name: 'typo', type: 'number', language: 'jsonpath' });
    panel.targets[0].fields.push({ jsonPath: '$.state', name: 'state as a number', type: 'number', language: 'jsonpath' });
    const missing = missingFields(broken, answer);
    assert.equal(missing.length, missingFields(await load(), answer).length + 2);
    assert.ok(missing.some((line) => line.endsWith('$.batches_succeeded (not in the answer)')), missing.join('\n'));
    assert.ok(missing.some((line) => line.endsWith('$.state (not a number)')), missing.join('\n'));
  });

  test('every Prometheus metric the dashboard names is in the Prometheus answer', async () => {
    const dashboard = await load();
    const words = JSON.stringify(dashboard).match(/whatsapp_collector_[a-z_]+/g) ?? [];
    assert.ok(words.length >= 5);
    const exposed = new Set(prometheus.split('\n').filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(/[{ ]/)[0]));
    for (const name of new Set(words)) assert.ok(exposed.has(name), `${name} is not exposed`);
    assert.match(prometheus, /^whatsapp_collector_connection_status\{client_id="dash-test",status="open"\} 1$/m);
    assert.match(prometheus, /^whatsapp_collector_up\{client_id="dash-test"\} 1$/m);
    assert.match(prometheus, /^whatsapp_collector_batches_success_total\{client_id="dash-test"\} 1$/m);
    assert.match(prometheus, /^whatsapp_collector_spool_max_bytes\{client_id="dash-test"\} 1000$/m);
  });
});
