//! Value types the `serve` flags parse into: durations written as humantime (`500ms`,
//! `25s`, `5m`) and comma-separated channel lists. Each displays the way it parses, so a
//! flag's default is built from the named constant and shown in `--help` (and checked
//! against `.env.example`) as a person would write it.

use std::{fmt, str::FromStr, time::Duration};

use switchboard_protocol::ChannelName;

/// A duration that parses and displays as humantime (`25s`, `1m`, `500ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text)
            .map(Self)
            .map_err(|e| format!("{e} (use e.g. 500ms, 25s, 5m)"))
    }
}

impl From<HumanDuration> for Duration {
    fn from(value: HumanDuration) -> Self {
        value.0
    }
}

/// Channel names written as one comma-separated value (`lobby,clock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelList(pub(crate) Vec<ChannelName>);

impl ChannelList {
    /// The list of a default: names from a constant, which its owner's tests keep valid.
    pub(crate) fn of(names: &[&str]) -> Self {
        Self(
            names
                .iter()
                .filter_map(|name| ChannelName::new(name).ok())
                .collect(),
        )
    }
}

impl fmt::Display for ChannelList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for ChannelList {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .map(|name| ChannelName::new(name.trim()).map_err(|e| format!("{name:?}: {e}")))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_reads_back_what_it_displays() {
        for text in ["0s", "500ms", "25s", "1m", "5m"] {
            let parsed: HumanDuration = text.parse().expect("valid");
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            "60s".parse::<HumanDuration>(),
            Ok(HumanDuration(Duration::from_secs(60)))
        );
        assert!("25".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn a_channel_list_reads_back_what_it_displays() {
        let list: ChannelList = "lobby, clock".parse().expect("valid");
        assert_eq!(list, ChannelList::of(&["lobby", "clock"]));
        assert_eq!(list.to_string(), "lobby,clock");
        assert!("lobby,bad name".parse::<ChannelList>().is_err());
    }
}
