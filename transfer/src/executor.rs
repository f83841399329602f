//! Executors: run a plan's jobs as subprocesses of the `transferability`
//! binary, locally (`--jobs N` at once, threads divided among them) or
//! through a real Slurm (`sbatch` with `--dependency=afterok`,
//! `--kill-on-invalid-dep=yes`). Both run the same command per job,
//! `transferability train --job OUT/jobs/<id>/job.json`, and both judge
//! success by the job's run record, never by exit codes (a Slurm job can be
//! recorded COMPLETED without having run).
//!
//! A re-run skips jobs whose record validates and resumes unfinished ones
//! from their checkpoints; a job whose dependency failed is not run and is
//! reported with the reason; everything else still runs.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::record::{Status, curve_path, run_path};
use crate::spec::{Arm, JobId};

/// The one command line that trains a job, for both executors: the
/// binary, `train --job FILE --threads N --progress lines`, and rayon held
/// to the same N threads.
#[derive(Debug, Clone, Copy)]
pub struct TrainCommand<'a> {
    /// The `transferability` binary.
    pub exe: &'a Path,
    /// The job's `job.json`.
    pub job: &'a Path,
    /// Threads of the job.
    pub threads: usize,
    /// Its backend, as `train --backend` takes it (`flex`, `tch`, `tch-cuda:1`).
    pub backend: &'a str,
}

impl TrainCommand<'_> {
    /// The arguments after the binary.
    pub fn args(&self) -> Vec<std::ffi::OsString> {
        let threads = self.threads.to_string();
        [
            "train".as_ref(),
            "--job".as_ref(),
            self.job.as_os_str(),
            "--threads".as_ref(),
            threads.as_ref(),
            "--backend".as_ref(),
            self.backend.as_ref(),
            "--progress".as_ref(),
            "lines".as_ref(),
        ]
        .map(std::ffi::OsStr::to_os_string)
        .to_vec()
    }

    /// The environment the job runs in.
    pub fn env(&self) -> [(&'static str, String); 1] {
        [("RAYON_NUM_THREADS", self.threads.to_string())]
    }

    /// A word single-quoted for the shell (a `'` inside as `'\''`).
    pub fn quote(s: &std::ffi::OsStr) -> String {
        format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
    }

    /// The same as shell lines (each word single-quoted): the environment
    /// exported, then `exec` of the command.
    pub fn script(&self) -> String {
        let quote = Self::quote;
        let exports: String = self.env().iter().map(|(k, v)| format!("export {k}={}\n", quote(v.as_ref()))).collect();
        let words: Vec<String> = std::iter::once(self.exe.as_os_str().to_os_string()).chain(self.args()).map(|w| quote(&w)).collect();
        format!("{exports}exec {}\n", words.join(" "))
    }
}

/// The backend a sweep's jobs train on (`sweep --backend`), as `train
/// --backend` takes it: `flex`, `tch` (libtorch on the CPU), or a CUDA
/// device family (`tch-cuda`, `cuda`) with or without an index (the
/// first GPU a local grid places jobs on). Kept as text, the way the
/// train command takes it; `sweep` checks that its binary knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobBackend(pub String);

impl JobBackend {
    /// Whether jobs need a GPU.
    pub fn cuda(&self) -> bool {
        let family = self.0.split(':').next().unwrap_or("");
        family == "tch-cuda" || family == "cuda"
    }

    /// The backend of a job on the `i`-th GPU of the grid (counted from
    /// the index the backend names, 0 without one); the backend itself when
    /// it is not a CUDA one.
    pub fn on_gpu(&self, i: usize) -> String {
        let mut parts = self.0.splitn(2, ':');
        let family = parts.next().unwrap_or("");
        let first: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if self.cuda() { format!("{family}:{}", first + i) } else { self.0.clone() }
    }
}

impl Default for JobBackend {
    fn default() -> Self {
        JobBackend("flex".into())
    }
}

/// Which GPUs of a machine are taken by running jobs: a job of a CUDA
/// grid takes the lowest free one and gives it back when it ends, so
/// jobs run one per GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuSlots {
    taken: Vec<Option<JobId>>,
}

impl GpuSlots {
    /// `n` free GPUs.
    pub fn new(n: usize) -> Self {
        GpuSlots { taken: vec![None; n] }
    }
    /// The lowest free GPU, now `job`'s; None when all are taken.
    pub fn take(&mut self, job: &JobId) -> Option<usize> {
        let i = self.taken.iter().position(Option::is_none)?;
        self.taken[i] = Some(job.clone());
        Some(i)
    }
    /// Free the GPU `job` held, if any.
    pub fn give_back(&mut self, job: &JobId) {
        for t in &mut self.taken {
            if t.as_ref() == Some(job) {
                *t = None;
            }
        }
    }
}

/// How a job ended in a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Finished earlier; skipped.
    AlreadyDone,
    /// Finished now.
    Done,
    /// Ran and failed.
    Failed(String),
    /// Not run because a dependency did not finish.
    NotRun(String),
}

/// The outcome of a sweep: every job's state, in plan order.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// `(id, state)`.
    pub jobs: Vec<(JobId, JobState)>,
    /// Wall seconds of this invocation.
    pub wall_seconds: f64,
}

impl SweepReport {
    /// Jobs in a state.
    pub fn count(&self, f: impl Fn(&JobState) -> bool) -> usize {
        self.jobs.iter().filter(|(_, s)| f(s)).count()
    }
    /// Whether every job finished.
    pub fn all_done(&self) -> bool {
        self.jobs.iter().all(|(_, s)| matches!(s, JobState::Done | JobState::AlreadyDone))
    }
}

/// Write every job file of a plan (`OUT/jobs/<id>/job.json`).
pub fn write_jobs(plan: &Plan) -> Result<Vec<PathBuf>> {
    plan.jobs
        .iter()
        .map(|j| {
            let p = j.job.dir.join("job.json");
            let json = serde_json::to_vec_pretty(&j.job).expect("job serialises");
            crate::record::atomic_write(&p, |f| std::io::Write::write_all(f, &json))?;
            Ok(p)
        })
        .collect()
}

/// The job's record state: `Some(Ok)` done, `Some(Err(reason))` failed,
/// `None` not finished (or the record there was written for another job).
pub fn record_state(plan: &Plan, id: &JobId) -> Option<std::result::Result<(), String>> {
    let j = plan.jobs.iter().find(|j| &j.job.id == id)?;
    let path = run_path(&j.job.records, &j.job.name());
    // a record of another job under this id (an earlier configuration) is not this job's
    let r = j.job.own_record(&path)?;
    Some(if r.status == Status::Ok { Ok(()) } else { Err(r.failure.unwrap_or_else(|| "failed".into())) })
}

/// Take the finished bases of another sweep of the same grid (`sweep
/// --bases-from`): each planned base not done here whose job in `from`
/// has the same fingerprint (same data, split, model, solver and seed;
/// whether frozen layers are cached does not change a base) and a record
/// is copied, its folder and records, so its transfers start from it.
/// Returns the ids taken.
pub fn adopt_bases(plan: &Plan, from: &Path) -> Result<Vec<JobId>> {
    let mut taken = Vec::new();
    for j in plan.jobs.iter().map(|p| &p.job).filter(|j| j.arm() == Arm::Base) {
        let name = j.name();
        let (run, curve) = (run_path(&j.records, &name), curve_path(&j.records, &name));
        if j.own_record(&run).is_some() {
            continue;
        }
        let theirs = records::SweepLayout::new(from);
        let (their_records, their_dir) = (theirs.records(), theirs.job(&name));
        let their_run = run_path(&their_records, &name);
        if !matches!(j.own_record(&their_run), Some(r) if r.status == Status::Ok) || !their_dir.join(records::FINAL_PARAMS).is_file() {
            continue;
        }
        copy_tree(&their_dir, &j.dir)?;
        // the run record last and each atomically: the base counts as done only when all of it is here
        for (theirs, ours) in [(curve_path(&their_records, &name), curve), (their_run, run)] {
            let mut from = std::fs::File::open(&theirs).map_err(|e| Error::io(&theirs, e))?;
            crate::record::atomic_write(&ours, |f| std::io::copy(&mut from, f).map(drop))?;
        }
        taken.push(j.id.clone());
    }
    Ok(taken)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
        for e in std::fs::read_dir(from).map_err(|e| Error::io(from, e))?.flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(drop).map_err(|e| Error::io(from, e))
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().rev().find(|l| l.contains("error") || l.contains("Error")).or(text.lines().last()).unwrap_or("no output").trim().to_string()
}

/// The jobs whose process ended, each judged by its run record (not its
/// exit code), removed from `running`.
fn reap(plan: &Plan, running: &mut HashMap<JobId, Child>) -> Result<Vec<(JobId, JobState)>> {
    let mut ended = Vec::new();
    for (id, child) in running.iter_mut() {
        if let Some(status) = child.try_wait().map_err(|e| Error::Executor(format!("{id}: {e}")))? {
            ended.push((id.clone(), status));
        }
    }
    Ok(ended
        .into_iter()
        .map(|(id, status)| {
            running.remove(&id);
            let log = plan.jobs.iter().find(|j| j.job.id == id).map(|j| j.job.dir.join("log.txt")).unwrap_or_default();
            let s = match record_state(plan, &id) {
                Some(Ok(())) => JobState::Done,
                Some(Err(reason)) => JobState::Failed(reason),
                None => JobState::Failed(format!("exit {status}, no record: {}", log_tail(&log))),
            };
            (id, s)
        })
        .collect())
}

/// Jobs whose dependency failed or was not run are not run, with the reason.
fn block_dependents(plan: &Plan, state: &mut BTreeMap<JobId, JobState>) {
    for j in &plan.jobs {
        if state.contains_key(&j.job.id) {
            continue;
        }
        if let Some(dep) = j.deps.iter().find(|d| matches!(state.get(*d), Some(JobState::Failed(_) | JobState::NotRun(_)))) {
            state.insert(j.job.id.clone(), JobState::NotRun(format!("dependency {dep} did not finish")));
        }
    }
}

/// Start one job's training as a subprocess, its output appended to the
/// job's `log.txt`.
fn spawn(dir: &Path, train: TrainCommand<'_>) -> Result<Child> {
    let path = dir.join("log.txt");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    Command::new(train.exe)
        .args(train.args())
        .envs(train.env())
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| Error::io(&path, e))?)
        .stderr(log)
        .spawn()
        .map_err(|e| Error::Executor(format!("cannot start {}: {e}", train.exe.display())))
}

/// Options of the local executor.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// The `transferability` binary.
    pub exe: PathBuf,
    /// Jobs at once (with a CUDA backend, at most one per GPU).
    pub jobs: usize,
    /// Threads to divide among running jobs.
    pub threads: usize,
    /// The jobs' backend.
    pub backend: JobBackend,
    /// GPUs of this machine a CUDA grid places its jobs on (0 to `gpus` − 1).
    pub gpus: usize,
}

fn progress_line(done: usize, total: usize, running: &[String]) -> String {
    format!("sweep: {done}/{total} finished; running: {}", running.join(", "))
}

/// How many of `ready` jobs to start now and the threads each gets: the
/// threads the running jobs leave free (`total − in_use`), shared among the
/// jobs started, one each before any job gets two. Jobs come before
/// threads: two `tiny` jobs of one thread each train the main job's grid
/// sooner than one job of two threads after another (`cargo xtask bench
/// --schedule`), so a job gets more than one thread only where fewer jobs
/// are ready than threads are free (a stage waiting on one base, the
/// grid's last job). Where the machine has at least a thread per slot, no
/// more jobs start than threads are free, so the threads are never
/// oversubscribed; with fewer threads than `--jobs` every job gets one, as
/// asked. A job's thread count never changes its numbers.
fn share(total: usize, slots_free: usize, in_use: usize, ready: usize, slots: usize) -> (usize, usize) {
    let free = total.saturating_sub(in_use);
    let budget = if total >= slots { free } else { usize::MAX };
    let starting = ready.min(slots_free).min(budget);
    (starting, (free / starting.max(1)).max(1))
}

/// Run a plan locally.
pub fn run_local(plan: &Plan, opts: &LocalOptions) -> Result<SweepReport> {
    let t0 = Instant::now();
    let files = write_jobs(plan)?;
    let ids: Vec<JobId> = plan.jobs.iter().map(|j| j.job.id.clone()).collect();
    let mut state: BTreeMap<JobId, JobState> = BTreeMap::new();
    for id in &ids {
        if let Some(Ok(())) = record_state(plan, id) {
            state.insert(id.clone(), JobState::AlreadyDone);
        }
    }
    let at_once = if opts.backend.cuda() { opts.jobs.clamp(1, opts.gpus.max(1)) } else { opts.jobs.max(1) };
    let mut threads_of: HashMap<JobId, usize> = HashMap::new();
    let mut gpus = GpuSlots::new(opts.gpus.max(1));
    let mut running: HashMap<JobId, Child> = HashMap::new();
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| indicatif::ProgressBar::new(ids.len() as u64));
    let mut last_line = Instant::now() - Duration::from_secs(60);
    loop {
        for (id, s) in reap(plan, &mut running)? {
            gpus.give_back(&id);
            threads_of.remove(&id);
            if let Some(b) = &bar {
                b.println(format!("{id}: {}", describe(&s)));
            } else {
                eprintln!("{id}: {}", describe(&s));
            }
            state.insert(id, s);
        }
        block_dependents(plan, &mut state);
        // start what is ready, up to `jobs` at once, the free threads shared among them
        let slots_free = at_once.saturating_sub(running.len());
        let ready: Vec<_> = plan
            .jobs
            .iter()
            .zip(&files)
            .filter(|(j, _)| !state.contains_key(&j.job.id) && !running.contains_key(&j.job.id))
            .filter(|(j, _)| j.deps.iter().all(|d| matches!(state.get(d), Some(JobState::Done | JobState::AlreadyDone))))
            // `share` starts at most one per free slot: no need to find more
            .take(slots_free)
            .collect();
        let (starting, threads) = share(opts.threads, slots_free, threads_of.values().sum(), ready.len(), at_once);
        for (j, file) in ready.into_iter().take(starting) {
            let backend = match opts.backend.cuda() {
                true => opts.backend.on_gpu(gpus.take(&j.job.id).expect("at most one running job per GPU")),
                false => opts.backend.0.clone(),
            };
            let child = spawn(&j.job.dir, TrainCommand { exe: &opts.exe, job: file, threads, backend: &backend })?;
            running.insert(j.job.id.clone(), child);
            threads_of.insert(j.job.id.clone(), threads);
        }
        let finished = state.len();
        let mut names: Vec<String> = running.keys().map(JobId::to_string).collect();
        names.sort();
        if let Some(b) = &bar {
            b.set_position(finished as u64);
            b.set_message(names.join(", "));
        } else if last_line.elapsed() > Duration::from_secs(30) {
            eprintln!("{}", progress_line(finished, ids.len(), &names));
            last_line = Instant::now();
        }
        if running.is_empty() && finished == ids.len() {
            break;
        }
        if running.is_empty() && !plan.jobs.iter().any(|j| !state.contains_key(&j.job.id)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(SweepReport { jobs: ids.iter().map(|id| (id.clone(), state[id].clone())).collect(), wall_seconds: t0.elapsed().as_secs_f64() })
}

/// A short description of a state.
pub fn describe(s: &JobState) -> String {
    match s {
        JobState::AlreadyDone => "already done".into(),
        JobState::Done => "done".into(),
        JobState::Failed(r) => format!("FAILED: {r}"),
        JobState::NotRun(r) => format!("not run: {r}"),
    }
}

/// Options of the Slurm executor.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// The `transferability` binary (must be reachable from the compute nodes).
    pub exe: PathBuf,
    /// CPUs per job (`--cpus-per-task`, and the job's thread count).
    pub cpus_per_task: usize,
    /// Extra `sbatch` arguments passed through (`--partition=gpu`, `--gres=gpu:1`, `--time=4:00:00`, `--mem=16G`).
    pub sbatch_args: Vec<String>,
    /// Seconds between polls.
    pub poll_seconds: f64,
    /// The jobs' backend: a CUDA one asks Slurm for one GPU per job
    /// (`--gres=gpu:1`, unless `sbatch_args` name their own `--gres`) and
    /// trains on the GPU Slurm gives it (index 0 of those it sees).
    pub backend: JobBackend,
}

/// The batch script of one job: its name, log and CPUs as `#SBATCH`
/// directives (one GPU too for a CUDA backend, unless the sweep's own
/// sbatch arguments ask for GPUs), then the train command.
pub fn sbatch_script(id: &JobId, dir: &Path, train: &TrainCommand<'_>, opts: &SlurmOptions) -> String {
    // the sweep's own sbatch arguments may ask for GPUs themselves (`--gres=gpu:a100:1`, `--gpus=1`, `-G 1`)
    let own = |a: &String| a == "--gres" || a.starts_with("--gres=") || a.starts_with("--gpus") || a.starts_with("-G");
    let gres = opts.backend.cuda() && !opts.sbatch_args.iter().any(own);
    format!(
        "#!/bin/bash\n#SBATCH --job-name={id}\n#SBATCH --output={out}\n#SBATCH --cpus-per-task={cpus}\n{gpu}{script}",
        // sbatch reads its directives itself, not through the shell: not quoted
        out = dir.join("slurm-%j.out").display(),
        cpus = train.threads,
        gpu = if gres { "#SBATCH --gres=gpu:1\n" } else { "" },
        script = train.script(),
    )
}

fn slurm(cmd: &str, args: &[String]) -> Result<String> {
    let out =
        Command::new(cmd).args(args).output().map_err(|e| Error::Executor(format!("cannot run `{cmd}` (is Slurm installed and SLURM_CONF set?): {e}")))?;
    if !out.status.success() {
        return Err(Error::Executor(format!("`{cmd} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run a plan through Slurm: check the controller answers, submit every
/// unfinished job with its dependencies, poll until nothing is queued, then
/// judge each job by its record.
pub fn run_slurm(plan: &Plan, opts: &SlurmOptions) -> Result<SweepReport> {
    let t0 = Instant::now();
    // reachable before anything is submitted
    slurm("sinfo", &["-h".into(), "-o".into(), "%P %a".into()])?;
    let files = write_jobs(plan)?;
    let mut submitted: BTreeMap<JobId, String> = BTreeMap::new();
    let mut state: BTreeMap<JobId, JobState> = BTreeMap::new();
    let cpus = opts.cpus_per_task.max(1);
    for (j, file) in plan.jobs.iter().zip(&files) {
        let id = &j.job.id;
        if let Some(Ok(())) = record_state(plan, id) {
            state.insert(id.clone(), JobState::AlreadyDone);
            continue;
        }
        let script = j.job.dir.join("job.sbatch");
        let backend = opts.backend.on_gpu(0);
        let train = TrainCommand { exe: &opts.exe, job: file, threads: cpus, backend: &backend };
        let body = sbatch_script(id, &j.job.dir, &train, opts);
        std::fs::write(&script, body).map_err(|e| Error::io(&script, e))?;
        let deps: Vec<&String> = j.deps.iter().filter_map(|d| submitted.get(d)).collect();
        let mut args = vec!["--parsable".to_string()];
        if !deps.is_empty() {
            args.push(format!("--dependency=afterok:{}", deps.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(":")));
            args.push("--kill-on-invalid-dep=yes".into());
        }
        if j.deps.iter().any(|d| !submitted.contains_key(d) && !matches!(state.get(d), Some(JobState::AlreadyDone))) {
            state.insert(id.clone(), JobState::NotRun("a dependency could not be submitted".into()));
            continue;
        }
        args.extend(opts.sbatch_args.iter().cloned());
        args.push(script.display().to_string());
        let out = slurm("sbatch", &args)?;
        let job_id = out.trim().split(';').next().unwrap_or("").to_string();
        submitted.insert(id.clone(), job_id);
    }
    // poll until nothing of ours is pending or running
    let ids: Vec<String> = submitted.values().cloned().collect();
    let poll = Duration::from_secs_f64(opts.poll_seconds.max(0.2));
    let mut last = Instant::now();
    while !ids.is_empty() {
        let out = Command::new("squeue").args(["-h", "-r", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-j", &ids.join(","), "-o", "%i|%T|%r"]).output();
        let active = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.trim().is_empty()).count(),
            // squeue exits 1 once every id is purged: nothing left
            _ => 0,
        };
        if active == 0 {
            break;
        }
        if last.elapsed() > Duration::from_secs(30) {
            eprintln!("slurm: {active} of {} jobs queued or running", ids.len());
            last = Instant::now();
        }
        std::thread::sleep(poll);
    }
    for j in &plan.jobs {
        let id = &j.job.id;
        if state.contains_key(id) {
            continue;
        }
        let s = match record_state(plan, id) {
            Some(Ok(())) => JobState::Done,
            Some(Err(r)) => JobState::Failed(r),
            None => match j.deps.iter().find(|d| !matches!(state.get(*d), Some(JobState::Done | JobState::AlreadyDone))) {
                Some(d) => JobState::NotRun(format!("dependency {d} did not finish")),
                None => JobState::Failed(format!("Slurm job {} left no record", submitted.get(id).map_or("?", |s| s.as_str()))),
            },
        };
        state.insert(id.clone(), s);
    }
    Ok(SweepReport { jobs: plan.jobs.iter().map(|j| (j.job.id.clone(), state[&j.job.id].clone())).collect(), wall_seconds: t0.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs before threads: every ready job gets a thread before any job
    /// gets two; a lone job takes what the running ones leave; the threads
    /// in use never exceed the machine's where it has one per slot.
    #[test]
    fn free_threads_go_to_more_jobs_first_and_never_oversubscribe() {
        // (total, free slots, threads in use, ready, slots) -> (started, threads each)
        assert_eq!(share(2, 2, 0, 5, 2), (2, 1), "two ready on two threads: one each");
        assert_eq!(share(2, 2, 0, 1, 2), (1, 2), "one ready, nothing running: both threads");
        assert_eq!(share(2, 1, 1, 3, 2), (1, 1), "one running on one thread: the other");
        assert_eq!(share(16, 4, 0, 3, 4), (3, 5));
        // --jobs 4 --threads 4: two bases of two threads each, then one ends
        assert_eq!(share(4, 4, 0, 2, 4), (2, 2));
        assert_eq!(share(4, 3, 2, 3, 4), (2, 1), "two free threads: two jobs start, not three");
        assert_eq!(share(4, 1, 4, 3, 4).0, 0, "no free thread: none starts");
        // fewer threads than --jobs: every job one thread, as before
        assert_eq!(share(2, 4, 0, 4, 4), (4, 1));
        for total in 1..9 {
            for slots in 1..=total {
                // a whole run of ready work: the threads in use never exceed the machine's
                let (mut in_use, mut running) = (0, Vec::new());
                for step in 0..40 {
                    if step % 3 == 2 && !running.is_empty() {
                        in_use -= running.remove(0);
                    }
                    let (n, each) = share(total, slots - running.len(), in_use, 1 + step % 4, slots);
                    for _ in 0..n {
                        running.push(each);
                        in_use += each;
                    }
                    assert!(in_use <= total && running.len() <= slots, "{total} threads, {slots} slots: {running:?}");
                }
            }
        }
    }

    /// The Slurm script runs the very command the local executor starts,
    /// whatever the paths hold: the shell reads back each word as written.
    #[test]
    fn both_executors_run_one_train_command() {
        let job = Path::new("/runs/it's a sweep/jobs/r0-base-A/job.json");
        let train = TrainCommand { exe: Path::new("/bin/echo"), job, threads: 3, backend: "flex" };
        let args: Vec<String> = train.args().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["train", "--job", "/runs/it's a sweep/jobs/r0-base-A/job.json", "--threads", "3", "--backend", "flex", "--progress", "lines"]);
        assert_eq!(train.env(), [("RAYON_NUM_THREADS", "3".to_string())]);
        let script = train.script();
        assert!(script.starts_with("export RAYON_NUM_THREADS='3'\nexec '/bin/echo' 'train'"), "{script}");
        let out = Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\n", args.join(" ")));
    }

    /// A CUDA grid's jobs run one per GPU: each takes the lowest free one,
    /// a third job on two GPUs waits, and a GPU given back is taken again.
    #[test]
    fn cuda_jobs_are_placed_one_per_gpu() {
        let b = JobBackend("tch-cuda".into());
        assert!(b.cuda() && JobBackend("cuda:3".into()).cuda() && !JobBackend("tch".into()).cuda() && !JobBackend::default().cuda());
        let ids: Vec<JobId> = ["r0-base-A", "r0-base-B", "whole-base"].iter().map(|s| s.parse().expect("id")).collect();
        let mut gpus = GpuSlots::new(2);
        let placed: Vec<Option<String>> = ids.iter().map(|id| gpus.take(id).map(|i| b.on_gpu(i))).collect();
        assert_eq!(placed, [Some("tch-cuda:0".into()), Some("tch-cuda:1".into()), None]);
        gpus.give_back(&ids[0]);
        assert_eq!(gpus.take(&ids[2]).map(|i| b.on_gpu(i)), Some("tch-cuda:0".into()));
        assert_eq!(JobBackend("tch".into()).on_gpu(1), "tch", "a CPU backend is not placed");
        assert_eq!(JobBackend("tch-cuda:2".into()).on_gpu(1), "tch-cuda:3", "counted from the GPU the backend names");
    }

    /// The batch script of a CUDA job asks Slurm for one GPU and trains on
    /// the GPU Slurm gives it; a CPU job's asks for none; sbatch arguments
    /// naming their own `--gres` win.
    #[test]
    fn a_cuda_jobs_slurm_script_asks_for_one_gpu() {
        let id: JobId = "r0-base-A".parse().expect("id");
        let dir = Path::new("/runs/s/jobs/r0-base-A");
        let job = dir.join("job.json");
        let opts = |backend: &str, sbatch: &[&str]| SlurmOptions {
            exe: "/bin/transferability".into(),
            cpus_per_task: 4,
            sbatch_args: sbatch.iter().map(|s| s.to_string()).collect(),
            poll_seconds: 1.0,
            backend: JobBackend(backend.into()),
        };
        let script = |o: &SlurmOptions| {
            let backend = o.backend.on_gpu(0);
            sbatch_script(&id, dir, &TrainCommand { exe: &o.exe, job: &job, threads: o.cpus_per_task, backend: &backend }, o)
        };
        let cuda = script(&opts("tch-cuda", &[]));
        assert!(cuda.lines().any(|l| l == "#SBATCH --gres=gpu:1"), "{cuda}");
        assert!(cuda.contains("'--backend' 'tch-cuda:0'") && cuda.contains("#SBATCH --cpus-per-task=4"), "{cuda}");
        let cpu = script(&opts("flex", &[]));
        assert!(!cpu.contains("--gres") && cpu.contains("'--backend' 'flex'"), "{cpu}");
        for own in [&["--gres=gpu:a100:1"][..], &["--gpus=1"], &["-G1"]] {
            let s = script(&opts("tch-cuda", own));
            assert!(!s.contains("#SBATCH --gres"), "{own:?}: {s}");
        }
        assert!(script(&opts("tch-cuda", &["--gres-flags=enforce-binding"])).contains("#SBATCH --gres=gpu:1"));
    }
}
