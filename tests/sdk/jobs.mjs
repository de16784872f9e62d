// Every Jobs method of the official (unmodified) Databricks SDK for
// JavaScript, pointed at jobsd's loopback TCP port with the local token.
// Prints TAP. Run by tests/integration/sdk-js.sh, which starts fakews
// (--small-ids: JavaScript numbers are doubles) and jobsd.
import { WorkspaceClient } from "@databricks/sdk-experimental";

let n = 0;
let failed = 0;
function ok(cond, what) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${what}`);
}
async function check(what, fn) {
  try {
    const r = await fn();
    ok(r !== false, what);
    return r;
  } catch (e) {
    ok(false, `${what}: ${e.message}`);
    return undefined;
  }
}

const w = new WorkspaceClient({ host: process.env.JOBSD_URL, token: process.env.JOBSD_TOKEN, authType: "pat" });
const task = (key, deps = [], path = `/Repos/etl/${key}`) => ({
  task_key: key, depends_on: deps.map((d) => ({ task_key: d })),
  notebook_task: { notebook_path: path, base_parameters: { fake_duration_ms: "2000" } },
});

const created = await check("create", () => w.jobs.create({ name: "sdk-etl", max_concurrent_runs: 5,
  tasks: [task("extract"), task("load", ["extract"])] }));
const jobId = created?.job_id;
await check("get", async () => (await w.jobs.get({ job_id: jobId })).settings.name === "sdk-etl");
await check("list (iterator)", async () => {
  const names = [];
  for await (const j of w.jobs.list({ limit: 1 })) names.push(j.settings.name);
  return names.includes("sdk-etl");
});
await check("update", async () => { await w.jobs.update({ job_id: jobId, new_settings: { description: "d" } });
  return (await w.jobs.get({ job_id: jobId })).settings.description === "d"; });

const run = await check("runNow and wait until TERMINATED", async () => {
  const waiter = await w.jobs.runNow({ job_id: jobId });
  const r = await waiter.wait();
  return r.state.life_cycle_state === "TERMINATED" && r.state.result_state === "SUCCESS" ? r : false;
});
await check("getRun", async () => (await w.jobs.getRun({ run_id: run.run_id })).tasks.length === 2);
await check("listRuns (iterator)", async () => {
  let k = 0;
  for await (const r of w.jobs.listRuns({ job_id: jobId, limit: 1 })) k++;
  return k >= 1;
});
const taskRun = run?.tasks?.[0]?.run_id;
await check("getRunOutput of a task run", async () => (await w.jobs.getRunOutput({ run_id: taskRun })).metadata.run_id === taskRun);
await check("exportRun", async () => (await w.jobs.exportRun({ run_id: taskRun })).views.length >= 1);

const failing = await check("submit a failing run and wait", async () => {
  const waiter = await w.jobs.submit({ run_name: "adhoc", tasks: [task("t", [], "/Repos/x/fail")] });
  const r = await waiter.wait();
  return r.state.result_state === "FAILED" ? r : false;
});
await check("repairRun and wait", async () => {
  const waiter = await w.jobs.repairRun({ run_id: failing.run_id, rerun_all_failed_tasks: true });
  const r = await waiter.wait();
  return r.state.life_cycle_state === "TERMINATED";
});
await check("cancelRun and wait", async () => {
  const started = await w.jobs.runNow({ job_id: jobId });
  const r = await (await w.jobs.cancelRun({ run_id: started.run_id })).wait();
  return r.state.result_state === "CANCELED";
});
await check("cancelAllRuns", async () => { await w.jobs.cancelAllRuns({ job_id: jobId }); return true; });
await check("deleteRun", async () => { await w.jobs.deleteRun({ run_id: run.run_id }); return true; });

await check("getPermissions", async () => (await w.jobs.getPermissions({ job_id: String(jobId) })).object_type === "job");
await check("getPermissionLevels", async () => (await w.jobs.getPermissionLevels({ job_id: String(jobId) })).permission_levels.length > 0);
// SDK 0.17.0 sends PATCH without its body (api-client.js only sends bodies
// for POST and PUT): whatever the workspace answers to that, jobsd must too.
const direct = new WorkspaceClient({ host: process.env.WS_URL, token: process.env.WS_TOKEN, authType: "pat" });
await check("the workspace has forgotten the deleted run", async () => {
  try { await direct.jobs.getRun({ run_id: run.run_id }); return false; }
  catch (e) { return e.errorCode === "INVALID_PARAMETER_VALUE" && /does not exist/.test(e.message); }
});
await check("jobsd still answers it from its archive", async () =>
  (await w.jobs.getRun({ run_id: run.run_id })).run_id === run.run_id);
const outcome = async (client) => {
  try {
    const p = await client.jobs.updatePermissions({ job_id: String(jobId), access_control_list: [{ group_name: "data", permission_level: "CAN_VIEW" }] });
    return `ok ${p.access_control_list.length}`;
  } catch (e) { return `${e.statusCode} ${e.errorCode} ${e.message}`; }
};
await check("updatePermissions answers as the workspace does", async () => {
  const [a, b] = [await outcome(w), await outcome(direct)];
  if (a !== b) console.log(`# through jobsd: ${a}\n# direct: ${b}`);
  return a === b;
});
await check("setPermissions", async () => {
  const p = await w.jobs.setPermissions({ job_id: String(jobId), access_control_list: [{ user_name: "owner@example.com", permission_level: "IS_OWNER" }] });
  return p.access_control_list.some((a) => a.user_name === "owner@example.com");
});
await check("reset", async () => { await w.jobs.reset({ job_id: jobId, new_settings: { name: "renamed", tasks: [task("only")] } });
  return (await w.jobs.get({ job_id: jobId })).settings.name === "renamed"; });
await check("delete", async () => { await w.jobs.delete({ job_id: jobId }); return true; });
await check("a deleted job is the workspace's error", async () => {
  try { await w.jobs.get({ job_id: jobId }); return false; }
  catch (e) { return e.statusCode === 400 && /does not exist/.test(e.message); }
});

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
