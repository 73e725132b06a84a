// Runs the review workflow's github-script step locally: the inline `script:` of the step
// (passed as a file), against a recorded pull_request event and a fake GitHub client that
// keeps comments in memory. Prints the calls and the comments as JSON on stdout.
//
//   node tests/workflow_harness.js SCRIPT_FILE EVENT_JSON STATE_JSON STACK
//
// STATE_JSON holds the PR's existing comments ([{id, body}]) and is rewritten after the run,
// so two runs in a row show whether the second updates the first's comment.
'use strict';

const fs = require('fs');
const path = require('path');

async function main() {
  const [scriptFile, eventFile, stateFile, stack] = process.argv.slice(2);
  const event = JSON.parse(fs.readFileSync(eventFile, 'utf8'));
  const comments = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  const calls = [];
  let nextId = 1000 + comments.length;
  const github = {
    rest: {
      issues: {
        listComments: async (args) => { calls.push(['listComments', args]); return { data: comments }; },
        createComment: async (args) => {
          calls.push(['createComment', { ...args, body: undefined }]);
          const c = { id: nextId++, body: args.body };
          comments.push(c);
          return { data: c };
        },
        updateComment: async (args) => {
          calls.push(['updateComment', { ...args, body: undefined }]);
          const c = comments.find((x) => x.id === args.comment_id);
          if (!c) throw new Error(`no comment ${args.comment_id}`);
          c.body = args.body;
          return { data: c };
        },
      },
    },
    // octokit's paginate: call the list method and return every item
    paginate: async (method, args) => (await method(args)).data,
  };
  const context = {
    payload: event,
    eventName: 'pull_request',
    repo: { owner: event.repository.owner.login, repo: event.repository.name },
  };
  const core = { info: (m) => calls.push(['info', m]) };
  // github-script runs the script as the body of an async function; require() resolves
  // relative paths against the workspace (the repository root)
  const workspaceRequire = (p) => require(p.startsWith('.') ? path.resolve(process.cwd(), p) : p);
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const body = fs.readFileSync(scriptFile, 'utf8');
  const fn = new AsyncFunction('require', 'github', 'context', 'core', 'process', body);
  process.env.STACK = stack;
  await fn(workspaceRequire, github, context, core, process);
  fs.writeFileSync(stateFile, JSON.stringify(comments));
  process.stdout.write(JSON.stringify({ calls, comments }));
}

main().catch((e) => { console.error(e); process.exit(1); });
