//! Helpers shared by the integration tests.
//!
//! Golden CLI scenarios live in `scenarios/` (see `scenarios/README.md`): `NAME.ipvs`, optional
//! `NAME.marks`, `NAME.jsonl` and `NAME.expected`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The directory holding the scenario files.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Names of all scenarios (every `NAME.jsonl` in [`scenario_dir`]), sorted.
pub fn scenario_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(scenario_dir())
        .expect("scenario directory")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "jsonl").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// The files of one scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub ipvs: PathBuf,
    pub marks: Option<PathBuf>,
    pub trace: PathBuf,
    pub expected: PathBuf,
}

impl Scenario {
    pub fn load(name: &str) -> Scenario {
        let dir = scenario_dir();
        let f = |ext: &str| dir.join(format!("{name}.{ext}"));
        let s = Scenario {
            name: name.to_string(),
            ipvs: f("ipvs"),
            marks: Some(f("marks")).filter(|p| p.exists()),
            trace: f("jsonl"),
            expected: f("expected"),
        };
        for p in [&s.ipvs, &s.trace, &s.expected] {
            assert!(p.exists(), "scenario {name}: missing {}", p.display());
        }
        s
    }

    /// `lvsnic replay` arguments for this scenario.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "replay".to_string(),
            "--ipvs".to_string(),
            self.ipvs.display().to_string(),
        ];
        if let Some(m) = &self.marks {
            a.push("--marks".to_string());
            a.push(m.display().to_string());
        }
        a.push("--trace".to_string());
        a.push(self.trace.display().to_string());
        a
    }

    pub fn expected_text(&self) -> String {
        std::fs::read_to_string(&self.expected).expect("expected file")
    }
}

/// Compare actual stdout with the expected lines; `Err` is a readable report of every
/// differing line (with the trace line that produced it).
pub fn compare(name: &str, actual: &str, expected: &str, trace: &str) -> Result<(), String> {
    let a: Vec<&str> = actual.lines().collect();
    let e: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    let trace_lines: Vec<&str> = trace.split('\n').collect();
    let mut report = String::new();
    for k in 0..a.len().max(e.len()) {
        let (al, el) = (
            a.get(k).copied().unwrap_or("<none>"),
            e.get(k).copied().unwrap_or("<none>"),
        );
        if al != el {
            let i = serde_json::from_str::<serde_json::Value>(el)
                .ok()
                .and_then(|v| v["i"].as_u64())
                .map(|i| i as usize);
            let src = i.and_then(|i| trace_lines.get(i)).copied().unwrap_or("?");
            let _ = write!(
                report,
                "\n  output line {k} (trace: {src})\n    expected {el}\n    actual   {al}"
            );
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(format!("scenario {name}: output differs:{report}"))
    }
}
pub mod traffic;
