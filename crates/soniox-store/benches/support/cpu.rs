//! CPU time from `/proc`, to give each benchmark round its CPU cost per event and the cores
//! other work took meanwhile. Included by soniox-store's benches (through `support`) and by
//! soniox-tracker's `pipeline` bench.

/// CPU seconds used so far, from `/proc` (Linux).
#[derive(Clone, Copy)]
pub(crate) struct CpuTimes {
    /// By this process.
    own: f64,
    /// By the children this process has waited for (`wrk`, say).
    children: f64,
    /// By the whole machine (every core busy, or taken by the hypervisor).
    machine: f64,
}

impl CpuTimes {
    /// `None` where `/proc` cannot tell (not Linux).
    pub(crate) fn now() -> Option<Self> {
        // Linux reports CPU times in ticks of 1/100 s on every architecture it runs on.
        const TICKS_PER_SECOND: f64 = 100.0;
        let ticks = |field: Option<&str>| field?.parse::<f64>().ok();
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command name (which may contain spaces) start with the
        // state, field 3; user, system, children's user and children's system times are
        // fields 14 to 17.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let own = ticks(fields.next())? + ticks(fields.next())?;
        let children = ticks(fields.next())? + ticks(fields.next())?;
        // `cpu  user nice system idle iowait irq softirq steal …`: all but idle and iowait.
        let machine = std::fs::read_to_string("/proc/stat").ok()?;
        let mut fields = machine.lines().next()?.split_whitespace().skip(1);
        let mut busy = 0.0;
        for index in 0..8 {
            let value = ticks(fields.next())?;
            if index != 3 && index != 4 {
                busy += value;
            }
        }
        Some(Self {
            own: own / TICKS_PER_SECOND,
            children: children / TICKS_PER_SECOND,
            machine: busy / TICKS_PER_SECOND,
        })
    }

    /// The CPU seconds this process used since `before`, and how many cores the rest of the
    /// machine (children this process waited for aside) kept busy on average over the
    /// `elapsed` seconds in between.
    pub(crate) fn since(self, before: Self, elapsed: f64) -> (f64, f64) {
        let own = self.own - before.own;
        let others = self.machine - before.machine - (self.children - before.children) - own;
        (own, (others / elapsed).max(0.0))
    }
}
