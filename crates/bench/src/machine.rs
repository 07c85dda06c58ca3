//! The machine a figure was measured on, named beside it: the same model runs at different
//! speeds on different CPUs, and on different kernels.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Machine {
    /// /proc/cpuinfo's "model name".
    pub cpu: String,
    /// /proc/cpuinfo's "vendor_id" (GenuineIntel, AuthenticAMD).
    pub vendor: String,
    /// CPUs this process may run on.
    pub cpus: usize,
}

impl Machine {
    /// This machine; "unknown" where /proc/cpuinfo does not say (not Linux, or not x86).
    pub(crate) fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self::from_cpuinfo(&cpuinfo, cpus)
    }

    fn from_cpuinfo(cpuinfo: &str, cpus: usize) -> Self {
        let field = |name: &str| {
            cpuinfo
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| key.trim() == name)
                .map_or_else(|| "unknown".to_owned(), |(_, value)| value.trim().to_owned())
        };
        Self { cpu: field("model name"), vendor: field("vendor_id"), cpus }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}), {} CPUs", self.cpu, self.vendor, self.cpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_cpu_from_the_first_processor_entry() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
            model name\t: AMD EPYC Processor\nflags\t\t: fpu avx512_vnni\n\n\
            processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC Processor\n";
        let machine = Machine::from_cpuinfo(cpuinfo, 2);
        assert_eq!(machine.to_string(), "AMD EPYC Processor (AuthenticAMD), 2 CPUs");
    }

    #[test]
    fn says_unknown_where_cpuinfo_is_silent() {
        let machine = Machine::from_cpuinfo("", 4);
        assert_eq!(machine, Machine { cpu: "unknown".into(), vendor: "unknown".into(), cpus: 4 });
    }
}
