//! Per-channel resume state: the epoch and the last `seq` handed to the application.
//!
//! Guarantees, per channel: the application sees each `seq` at most once and in
//! increasing order. After a reconnect every channel is re-subscribed with `since` =
//! its last seq; until the server's answer to *that* request arrives the channel is
//! "resuming", and channel messages on it are held back (dropped), because the server
//! replays everything after `since` right behind its `subscribed` answer. A new epoch
//! (the server restarted) resets the channel to seq 0, since numbering starts over.

use std::collections::BTreeMap;

/// One channel's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) epoch: String,
    pub(crate) last_seq: u64,
    /// The id of the resume `subscribe` not answered yet.
    pub(crate) resume_id: Option<u64>,
}

/// A resume request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub(crate) id: u64,
    pub(crate) channel: String,
    pub(crate) since: u64,
    pub(crate) epoch: String,
}

/// Every subscribed channel's cursor.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    map: BTreeMap<String, Cursor>,
    /// Channel messages dropped as already seen.
    pub(crate) duplicates: u64,
}

impl Cursors {
    /// Records a `subscribed` answer (to the client's request `id`, or unprompted);
    /// `recovered` messages (the last ones up to `seq`) follow it.
    pub(crate) fn on_subscribed(
        &mut self,
        id: Option<u64>,
        channel: &str,
        epoch: &str,
        seq: u64,
        recovered: u64,
    ) {
        let Some(cursor) = self.map.get_mut(channel) else {
            self.map.insert(
                channel.to_owned(),
                Cursor {
                    epoch: epoch.to_owned(),
                    last_seq: seq.saturating_sub(recovered),
                    resume_id: None,
                },
            );
            return;
        };
        if let Some(resume_id) = cursor.resume_id {
            // An unprompted `subscribed` (the server joining us on connect) does not end
            // the resume: the replay follows the answer to our own request.
            if id == Some(resume_id) {
                cursor.resume_id = None;
                if cursor.epoch != epoch {
                    cursor.epoch = epoch.to_owned();
                    cursor.last_seq = 0;
                }
            }
        } else if cursor.epoch != epoch {
            cursor.epoch = epoch.to_owned();
            cursor.last_seq = seq;
        }
    }

    /// Whether a channel message should reach the application (updates the cursor).
    pub(crate) fn accept(&mut self, channel: &str, seq: u64) -> bool {
        let Some(cursor) = self.map.get_mut(channel) else {
            return true;
        };
        if cursor.resume_id.is_some() {
            return false;
        }
        if seq <= cursor.last_seq {
            self.duplicates += 1;
            return false;
        }
        cursor.last_seq = seq;
        true
    }

    /// Marks every channel as resuming; the requests to send, ids from `next_id`.
    pub(crate) fn begin_resume(&mut self, mut next_id: impl FnMut() -> u64) -> Vec<Resume> {
        self.map
            .iter_mut()
            .map(|(channel, cursor)| {
                let id = next_id();
                cursor.resume_id = Some(id);
                Resume {
                    id,
                    channel: channel.clone(),
                    since: cursor.last_seq,
                    epoch: cursor.epoch.clone(),
                }
            })
            .collect()
    }

    /// Whether `id` is an outstanding resume request.
    pub(crate) fn is_resume(&self, id: u64) -> bool {
        self.map.values().any(|c| c.resume_id == Some(id))
    }

    /// The resume request `id` failed: stop holding the channel back; returns it.
    pub(crate) fn resume_failed(&mut self, id: u64) -> Option<String> {
        let (channel, cursor) = self.map.iter_mut().find(|(_, c)| c.resume_id == Some(id))?;
        cursor.resume_id = None;
        Some(channel.clone())
    }

    pub(crate) fn remove(&mut self, channel: &str) {
        self.map.remove(channel);
    }

    pub(crate) fn get(&self, channel: &str) -> Option<&Cursor> {
        self.map.get(channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_duplicates_and_holds_back_during_resume() {
        let mut c = Cursors::default();
        c.on_subscribed(None, "news", "e1", 4, 0);
        assert!(!c.accept("news", 4));
        assert!(c.accept("news", 5));
        let mut ids = 100..;
        let resumes = c.begin_resume(|| ids.next().unwrap_or(0));
        assert_eq!(resumes[0].since, 5);
        // The server re-joins us on connect, then live messages arrive: held back.
        c.on_subscribed(None, "news", "e1", 7, 0);
        assert!(!c.accept("news", 7));
        // Our resume answer, then the replay 6, 7 and live 8.
        c.on_subscribed(Some(100), "news", "e1", 7, 2);
        assert!(c.accept("news", 6) && c.accept("news", 7) && c.accept("news", 8));
        assert!(!c.accept("news", 8));
        assert_eq!(c.duplicates, 2);
    }

    #[test]
    fn a_new_epoch_starts_numbering_over() {
        let mut c = Cursors::default();
        c.on_subscribed(None, "news", "e1", 0, 0);
        assert!(c.accept("news", 1) && c.accept("news", 2));
        c.begin_resume(|| 1);
        c.on_subscribed(Some(1), "news", "e2", 1, 1);
        assert!(c.accept("news", 1));
        assert_eq!(c.get("news").map(|c| c.epoch.as_str()), Some("e2"));
    }
}
