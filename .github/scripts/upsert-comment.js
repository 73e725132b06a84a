// Post or update the one sizing-review comment a pull request has per stack.
//
// Called from actions/github-script (which passes its authenticated `github` client, the
// event `context` and `core`):
//
//   const upsert = require('./.github/scripts/upsert-comment.js');
//   await upsert({ github, context, core, stack: 'aws-chat-small', bodyFile: 'review/comment.md' });
//
// The comment is found again by a hidden marker naming the stack, so each push edits the
// same comment instead of adding one. tests/test_workflow.py runs this file under Node with a
// recorded pull_request event and a fake client.
'use strict';

const fs = require('fs');

const MAX_BODY = 65536; // GitHub's limit on an issue comment body (characters)

function marker(stack) {
  return `<!-- gpuforge-plan:${stack} -->`;
}

function commentBody(stack, text) {
  let body = `${marker(stack)}\n${text}`;
  if (body.length > MAX_BODY) {
    const note = '\n\n*(truncated: the full review is in the workflow run\'s artifacts)*\n';
    body = body.slice(0, MAX_BODY - note.length) + note;
  }
  return body;
}

async function upsert({ github, context, core, stack, bodyFile }) {
  const number = context.payload.pull_request && context.payload.pull_request.number;
  if (!number) {
    core.info('not a pull request: nothing to comment on');
    return { action: 'none' };
  }
  const { owner, repo } = context.repo;
  const text = fs.existsSync(bodyFile)
    ? fs.readFileSync(bodyFile, 'utf8')
    : `### gpuforge sizing: \`${stack}\`\n\nThe review step wrote no ${bodyFile}; see the workflow log.\n`;
  const body = commentBody(stack, text);
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner, repo, issue_number: number, per_page: 100,
  });
  const mine = comments.find((c) => c.body && c.body.startsWith(marker(stack)));
  if (mine) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body });
    core.info(`updated comment ${mine.id} for ${stack}`);
    return { action: 'updated', id: mine.id };
  }
  const created = await github.rest.issues.createComment({ owner, repo, issue_number: number, body });
  core.info(`created comment ${created.data.id} for ${stack}`);
  return { action: 'created', id: created.data.id };
}

module.exports = upsert;
module.exports.marker = marker;
module.exports.commentBody = commentBody;
