//! The job executor of a sandbox context: runs promise jobs, and while only host calls
//! are outstanding, *waits* for their replies instead of spinning (Boa's
//! `SimpleJobExecutor` polls in a loop, which would burn a core per waiting script).
//! There are no timers: `sleep()` is a host call.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use boa_engine::job::{GenericJob, Job, JobExecutor, NativeAsyncJob, PromiseJob};
use boa_engine::{Context, JsResult};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// Promise jobs, generic jobs and host calls of one context.
#[derive(Default)]
pub struct Executor {
    promise_jobs: RefCell<VecDeque<PromiseJob>>,
    generic_jobs: RefCell<VecDeque<GenericJob>>,
    async_jobs: RefCell<VecDeque<NativeAsyncJob>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

impl JobExecutor for Executor {
    fn enqueue_job(self: Rc<Self>, job: Job, _context: &mut Context) {
        match job {
            Job::PromiseJob(job) => self.promise_jobs.borrow_mut().push_back(job),
            Job::AsyncJob(job) => self.async_jobs.borrow_mut().push_back(job),
            Job::GenericJob(job) => self.generic_jobs.borrow_mut().push_back(job),
            // No timers are exposed to scripts, and finalization callbacks are not run.
            _ => {}
        }
    }

    fn run_jobs(self: Rc<Self>, context: &mut Context) -> JsResult<()> {
        futures::executor::block_on(self.run_jobs_async(&RefCell::new(context)))
    }

    async fn run_jobs_async(self: Rc<Self>, context: &RefCell<&mut Context>) -> JsResult<()> {
        let mut waiting = FuturesUnordered::new();
        loop {
            let started: Vec<NativeAsyncJob> = self.async_jobs.borrow_mut().drain(..).collect();
            for job in started {
                waiting.push(job.call(context));
            }
            let mut progressed = false;
            loop {
                let job = self.promise_jobs.borrow_mut().pop_front();
                let Some(job) = job else { break };
                job.call(&mut context.borrow_mut())?;
                progressed = true;
            }
            loop {
                let job = self.generic_jobs.borrow_mut().pop_front();
                let Some(job) = job else { break };
                job.call(&mut context.borrow_mut())?;
                progressed = true;
            }
            if progressed || !self.async_jobs.borrow().is_empty() {
                context.borrow_mut().clear_kept_objects();
                continue;
            }
            // Nothing runnable: wait for a host call to finish, or stop when none is out.
            match waiting.next().await {
                Some(result) => {
                    result?;
                }
                None => return Ok(()),
            }
        }
    }
}
