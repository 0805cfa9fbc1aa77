//! The one logical fleet every simulated provider exposes in its own wire format.
//!
//! Seeding is deterministic: the same size and seed give the same serials, names, users and groups on
//! every machine and every version (ChaCha8 is a specified generator, unlike `StdRng`).
//!
//! Every device has a change time (what Jamf calls `general.reportDate`, Intune `lastSyncDateTime`, Fleet
//! `updated_at`, Iru `last_check_in`, JumpCloud `lastContact`): seeded devices changed at some second of
//! the 30 days before the fleet's clock, and [`Fleet::touch_device`] and the mutations stamp the clock's
//! current time. The clock stands still until [`Fleet::advance`] moves it, so several changes can share
//! a second, as they do on real servers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mdmkit_core::chrono::{DateTime, Utc};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A device in the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDevice {
    /// Stable index: every provider derives its own device id from it.
    pub index: u32,
    /// Hardware serial number as the MDM reports it.
    pub serial: String,
    /// The device's name (some are non-ASCII).
    pub name: String,
    /// Index of the assigned user, if any.
    pub user: Option<u32>,
}

/// A person devices can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    /// Stable index: every provider derives its own user id from it.
    pub index: u32,
    /// Login name, e.g. `zoe.martin7`.
    pub username: String,
    /// Full name, e.g. `Zoë Martin`.
    pub full_name: String,
    /// Email address.
    pub email: String,
}

/// A device group (Jamf computer group, Iru tag, SimpleMDM assignment group, Fleet label, JumpCloud system
/// group, Entra security group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    /// Stable index: every provider derives its own group id from it.
    pub index: u32,
    /// The group's name.
    pub name: String,
    /// Member device indexes.
    pub members: BTreeSet<u32>,
    /// Whether the group is computed from criteria (Jamf smart groups, Fleet dynamic labels) rather than
    /// listed by hand.
    pub smart: bool,
}

/// The fleet: devices, users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    /// Devices by index.
    pub devices: BTreeMap<u32, SimDevice>,
    /// Users by index.
    pub users: BTreeMap<u32, SimUser>,
    /// Groups by index.
    pub groups: BTreeMap<u32, SimGroup>,
    next_device: u32,
    next_group: u32,
    /// The fleet's clock, seconds since the Unix epoch.
    now: i64,
    /// When each device last changed, seconds since the Unix epoch.
    changed: BTreeMap<u32, i64>,
}

/// The seeded fleet's clock: 2026-11-01T00:00:00Z.
pub const SEEDED_NOW: i64 = 1_793_491_200;
/// Seeded devices changed within this many seconds before [`SEEDED_NOW`].
const SEEDED_SPREAD: i64 = 30 * 86_400;

const FIRST: &[&str] = &[
    "Ada",
    "Zoë",
    "Jürgen",
    "Søren",
    "José",
    "Amélie",
    "Chloé",
    "Ngọc",
    "Łukasz",
    "Ørjan",
    "Mei",
    "Oluwaseun",
    "Priya",
    "Björn",
    "Iñaki",
    "Grace",
    "Linus",
    "Margaret",
    "Hedy",
    "Alan",
    "Katherine",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Tim",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Martin",
    "Müller",
    "Kierkegaard",
    "García",
    "Poulain",
    "Dubois",
    "Nguyễn",
    "Kowalski",
    "Hansen",
    "Chen",
    "Adeyemi",
    "Patel",
    "Andersson",
    "Etxeberria",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Lamarr",
    "Turing",
    "Johnson",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Perlman",
    "Berners-Lee",
];
const MODELS: &[&str] = &[
    "MacBook Pro",
    "MacBook Air",
    "iMac",
    "Mac mini",
    "Mac Studio",
    "ThinkPad X1",
    "Surface Laptop",
];
const GROUPS: &[&str] = &[
    "Engineering",
    "Design",
    "Sales",
    "Finance",
    "Support",
    "Executives",
    "Loaners",
    "Développement",
    "Kiosks",
    "Contractors",
];
const SERIAL_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const SERIAL_PREFIXES: &[&str] = &["C02", "FVF", "H4T", "DMP", "PF3", "5CG"];

impl Fleet {
    /// A fleet of `devices` devices seeded from `seed`.
    ///
    /// Shape: about nine users for every ten devices; one device in five is unassigned; names mix ASCII
    /// and non-ASCII; groups overlap (every device is in one group and about a third in a second); one
    /// group is empty and one is smart. Device 1's serial is device 0's plus one character, so substring
    /// serial filters have something to get wrong.
    pub fn seeded(devices: usize, seed: u64) -> Fleet {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut fleet = Fleet::default();
        let user_count = (devices * 9 / 10).max(1) as u32;
        for index in 0..user_count {
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let ascii: String = format!("{first}.{last}")
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let username = format!("{ascii}{index}");
            fleet.users.insert(
                index,
                SimUser {
                    index,
                    email: format!("{username}@example.com"),
                    username,
                    full_name: format!("{first} {last}"),
                },
            );
        }
        let group_count = (devices / 25).clamp(3, 200) as u32;
        for index in 0..group_count {
            let base = GROUPS[index as usize % GROUPS.len()];
            let name = if (index as usize) < GROUPS.len() {
                base.to_owned()
            } else {
                format!("{base} {}", index as usize / GROUPS.len() + 1)
            };
            fleet.groups.insert(
                index,
                SimGroup {
                    index,
                    name,
                    members: BTreeSet::new(),
                    smart: index == 1,
                },
            );
        }
        // The last group stays empty.
        let populated = group_count.saturating_sub(1).max(1);
        for index in 0..devices as u32 {
            let serial = if index == 1 {
                format!("{}Z", fleet.devices[&0].serial)
            } else {
                random_serial(&mut rng)
            };
            let owner = rng.random_bool(0.8).then(|| index % user_count);
            let model = MODELS[rng.random_range(0..MODELS.len())];
            let name = match owner.and_then(|u| fleet.users.get(&u)) {
                Some(user) if rng.random_bool(0.7) => {
                    let first = user.full_name.split(' ').next().unwrap_or("Team");
                    format!("{first}’s {model}")
                }
                _ => format!("{model} {:04}", index),
            };
            fleet.devices.insert(
                index,
                SimDevice {
                    index,
                    serial,
                    name,
                    user: owner,
                },
            );
            let primary = index % populated;
            fleet
                .groups
                .get_mut(&primary)
                .map(|g| g.members.insert(index));
            if rng.random_bool(0.33) {
                let second = rng.random_range(0..populated);
                fleet
                    .groups
                    .get_mut(&second)
                    .map(|g| g.members.insert(index));
            }
        }
        fleet.next_device = devices as u32;
        fleet.next_group = group_count;
        fleet.now = SEEDED_NOW;
        // A fixed permutation of the 30 days: device i changed (i * 7919) mod 30 days before the clock.
        fleet.changed = (0..devices as u32)
            .map(|i| (i, SEEDED_NOW - 1 - (i as i64 * 7_919) % SEEDED_SPREAD))
            .collect();
        fleet
    }

    /// The fleet's clock.
    pub fn now(&self) -> DateTime<Utc> {
        to_time(self.now)
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.now = self
            .now
            .saturating_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }

    /// When a device last changed (its inventory report, check-in or sync time).
    pub fn changed_at(&self, device: u32) -> Option<DateTime<Utc>> {
        self.changed.get(&device).map(|t| to_time(*t))
    }

    /// Records a change of a device now: a check-in, an inventory report, a sync.
    pub fn touch_device(&mut self, device: u32) {
        if self.devices.contains_key(&device) {
            self.changed.insert(device, self.now);
        }
    }

    /// Sets when a device last changed (for tests that need ties or old devices).
    pub fn set_changed_at(&mut self, device: u32, at: DateTime<Utc>) {
        if self.devices.contains_key(&device) {
            self.changed.insert(device, at.timestamp());
        }
    }

    /// Adds a device and returns its index.
    pub fn add_device(&mut self, serial: &str, name: &str, user: Option<u32>) -> u32 {
        let index = self.next_device;
        self.next_device += 1;
        self.devices.insert(
            index,
            SimDevice {
                index,
                serial: serial.to_owned(),
                name: name.to_owned(),
                user,
            },
        );
        self.changed.insert(index, self.now);
        index
    }

    /// Removes a device (and its group memberships).
    pub fn remove_device(&mut self, index: u32) -> Option<SimDevice> {
        for group in self.groups.values_mut() {
            group.members.remove(&index);
        }
        self.changed.remove(&index);
        self.devices.remove(&index)
    }

    /// Assigns a device to a user, or unassigns it (a change of the device, stamped now).
    pub fn assign_user(&mut self, device: u32, user: Option<u32>) {
        if let Some(d) = self.devices.get_mut(&device) {
            d.user = user;
            self.changed.insert(device, self.now);
        }
    }

    /// Renames a device (a change of the device, stamped now).
    pub fn rename_device(&mut self, device: u32, name: &str) {
        if let Some(d) = self.devices.get_mut(&device) {
            d.name = name.to_owned();
            self.changed.insert(device, self.now);
        }
    }

    /// Adds a group and returns its index.
    pub fn add_group(&mut self, name: &str, members: impl IntoIterator<Item = u32>) -> u32 {
        let index = self.next_group;
        self.next_group += 1;
        self.groups.insert(
            index,
            SimGroup {
                index,
                name: name.to_owned(),
                members: members.into_iter().collect(),
                smart: false,
            },
        );
        index
    }

    /// Replaces a group's members.
    pub fn set_group_members(&mut self, group: u32, members: impl IntoIterator<Item = u32>) {
        if let Some(g) = self.groups.get_mut(&group) {
            g.members = members.into_iter().collect();
        }
    }

    /// Renames a group.
    pub fn rename_group(&mut self, group: u32, name: &str) {
        if let Some(g) = self.groups.get_mut(&group) {
            g.name = name.to_owned();
        }
    }

    /// Deletes a group.
    pub fn delete_group(&mut self, group: u32) -> Option<SimGroup> {
        self.groups.remove(&group)
    }

    /// The user assigned to a device, if any.
    pub fn user_of(&self, device: &SimDevice) -> Option<&SimUser> {
        device.user.and_then(|u| self.users.get(&u))
    }

    /// Groups a device belongs to.
    pub fn groups_of(&self, device: u32) -> impl Iterator<Item = &SimGroup> {
        self.groups
            .values()
            .filter(move |g| g.members.contains(&device))
    }
}

fn to_time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn random_serial(rng: &mut ChaCha8Rng) -> String {
    let prefix = SERIAL_PREFIXES[rng.random_range(0..SERIAL_PREFIXES.len())];
    let rest: String = (0..9)
        .map(|_| SERIAL_ALPHABET[rng.random_range(0..SERIAL_ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{rest}")
}

/// Deterministic identifiers in each provider's own style, derived from a stable index and a namespace.
pub mod ids {
    /// A lower-case hexadecimal UUID-shaped id (version 4 layout) for `index` in `namespace`.
    pub fn uuid(namespace: u8, index: u32) -> String {
        let a = mix(((namespace as u64) << 32) | index as u64);
        let b = mix(a ^ 0x9e37_79b9_7f4a_7c15);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            (a & 0xfff) as u16,
            0x8000 | ((b >> 48) as u16 & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// A 24-digit hexadecimal id (MongoDB ObjectId style, as JumpCloud uses) for `index` in `namespace`.
    pub fn object_id(namespace: u8, index: u32) -> String {
        let a = mix(((namespace as u64) << 32) | index as u64);
        format!("{:016x}{:08x}", a, index)
    }

    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_shaped() {
        let a = Fleet::seeded(500, 7);
        assert_eq!(a, Fleet::seeded(500, 7));
        assert_ne!(a, Fleet::seeded(500, 8));
        assert_eq!(a.devices.len(), 500);
        let unassigned = a.devices.values().filter(|d| d.user.is_none()).count();
        assert!((50..200).contains(&unassigned), "{unassigned}");
        assert!(a.devices.values().any(|d| !d.name.is_ascii()));
        assert!(a.devices[&1].serial.starts_with(&a.devices[&0].serial));
        let serials: BTreeSet<_> = a.devices.values().map(|d| &d.serial).collect();
        assert_eq!(serials.len(), 500, "serials are unique");
        let last = a.groups.keys().last().unwrap();
        assert!(a.groups[last].members.is_empty());
        let in_two = a
            .devices
            .keys()
            .filter(|d| a.groups_of(**d).count() > 1)
            .count();
        assert!(in_two > 50, "groups overlap");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(ids::uuid(1, 5), ids::uuid(1, 5));
        assert_ne!(ids::uuid(1, 5), ids::uuid(2, 5));
        assert_eq!(ids::uuid(1, 5).len(), 36);
        assert_eq!(ids::object_id(1, 5).len(), 24);
    }

    #[test]
    fn mutations() {
        let mut f = Fleet::seeded(10, 1);
        let d = f.add_device("NEWSERIAL1", "New Mac", None);
        let g = f.add_group("New", [d, 0]);
        f.rename_group(g, "Renamed");
        assert_eq!(f.groups[&g].name, "Renamed");
        f.remove_device(d);
        assert!(!f.groups[&g].members.contains(&d));
        f.assign_user(0, None);
        assert_eq!(f.devices[&0].user, None);
        f.delete_group(g);
        assert!(!f.groups.contains_key(&g));
    }

    #[test]
    fn change_times_are_seeded_and_stamped_by_mutations() {
        let mut f = Fleet::seeded(100, 1);
        let start = f.now();
        assert_eq!(start.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        let oldest = start - mdmkit_core::chrono::Duration::days(30);
        for i in 0..100 {
            let t = f.changed_at(i).unwrap();
            assert!(t < start && t >= oldest, "{i}: {t}");
        }
        assert_ne!(f.changed_at(0), f.changed_at(1));
        f.advance(Duration::from_secs(60));
        f.touch_device(3);
        f.assign_user(4, None);
        f.rename_device(5, "Renamed");
        let d = f.add_device("NEW1", "New", None);
        for i in [3, 4, 5, d] {
            assert_eq!(f.changed_at(i), Some(f.now()), "{i}");
        }
        assert!(f.changed_at(6).unwrap() < start);
        f.remove_device(d);
        assert_eq!(f.changed_at(d), None);
        f.touch_device(9_999);
        assert_eq!(
            f.changed_at(9_999),
            None,
            "no change time for a device that does not exist"
        );
    }
}
