//! The one logical fleet every simulated provider exposes in its own wire format.
//!
//! Seeding is deterministic: the same size and seed give the same serials, names, users and groups on
//! every machine and every version (ChaCha8 is a specified generator, unlike `StdRng`).

use std::collections::{BTreeMap, BTreeSet};

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
}

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
        fleet
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
        index
    }

    /// Removes a device (and its group memberships).
    pub fn remove_device(&mut self, index: u32) -> Option<SimDevice> {
        for group in self.groups.values_mut() {
            group.members.remove(&index);
        }
        self.devices.remove(&index)
    }

    /// Assigns a device to a user, or unassigns it.
    pub fn assign_user(&mut self, device: u32, user: Option<u32>) {
        if let Some(d) = self.devices.get_mut(&device) {
            d.user = user;
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
}
