//! Who may do what in a tenant's console: permissions (`resource:action`), the roles that bundle
//! them, and the teams through which roles reach people.

use super::{one_line, Invalid, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Every permission the console checks, with what it lets a person do (shown in the picker).
pub const CATALOGUE: &[(&str, &str)] = &[
    (
        "users:read",
        "See users, their sign-ins, factors, roles and teams",
    ),
    (
        "users:write",
        "Create, invite, edit, block and delete users; reset their passwords and second factors",
    ),
    ("roles:manage", "Create, edit and assign roles"),
    (
        "teams:manage",
        "Create teams and manage their members and roles",
    ),
    ("clients:manage", "Register and edit every application"),
    (
        "clients:manage_own",
        "Register applications and edit the ones they registered",
    ),
    (
        "branding:manage",
        "Change the name, logo and colours people see",
    ),
    (
        "settings:manage",
        "Change sign-in, password, session and token policies",
    ),
    ("audit:read", "Read and export the audit log"),
    (
        "api_keys:manage",
        "Create and revoke API keys, each with at most their own permissions",
    ),
    (
        "webhooks:manage",
        "Add, change and remove webhook endpoints; read their delivery logs",
    ),
    (
        "connections:manage",
        "Add, change and remove the other identity providers people may sign in with",
    ),
];

/// `resource:action`, `resource:*` or `*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Permission(String);

impl Permission {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        let known = raw == "*"
            || CATALOGUE.iter().any(|(p, _)| *p == raw)
            || raw.strip_suffix(":*").is_some_and(|resource| {
                CATALOGUE
                    .iter()
                    .any(|(p, _)| p.split(':').next() == Some(resource))
            });
        if known {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(format!(
                "{:?} is not a permission. Permissions look like users:read, users:* or *.",
                raw.chars().take(60).collect::<String>()
            )))
        }
    }

    /// The permission a scope of the management API carries: `None` for any other scope, an
    /// error for `tessera:` and something that is not a permission.
    pub fn of_api_scope(scope: &str) -> Option<Result<Self, Invalid>> {
        scope.strip_prefix(API_SCOPE_PREFIX).map(Self::parse)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether holding this permission grants `needed` (itself a permission, possibly a
    /// wildcard). Managing every client includes managing one's own; writing users includes
    /// reading them.
    pub fn covers(&self, needed: &str) -> bool {
        let held = self.0.as_str();
        held == "*"
            || held == needed
            || held
                .strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with(':') && needed.starts_with(prefix))
            || matches!(
                (held, needed),
                ("clients:manage", "clients:manage_own") | ("users:write", "users:read")
            )
    }
}

/// Scopes of the management API: `tessera:` and a permission (`tessera:users:read`). An
/// application registered with them gets them in its client-credentials access tokens for the
/// API, and acts with exactly those permissions.
pub const API_SCOPE_PREFIX: &str = "tessera:";

impl TryFrom<String> for Permission {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Permission> for String {
    fn from(value: Permission) -> Self {
        value.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one person may do: the union of their roles' permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants(Vec<Permission>);

impl Grants {
    pub fn of<'a>(roles: impl IntoIterator<Item = &'a Role>) -> Self {
        let mut all: Vec<Permission> = roles
            .into_iter()
            .flat_map(|r| r.permissions.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup();
        Self(all)
    }

    pub fn allows(&self, needed: &str) -> bool {
        self.0.iter().any(|p| p.covers(needed))
    }

    /// Whether these grants include every one of `permissions` (a role's, a key's): nobody
    /// hands out more than they hold.
    pub fn include(&self, permissions: &[Permission]) -> bool {
        permissions.iter().all(|p| self.allows(p.as_str()))
    }

    /// Grants of exactly these permissions (an API key's).
    pub fn exactly(permissions: &[Permission]) -> Self {
        let mut all = permissions.to_vec();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup();
        Self(all)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub const OWNER: &str = "owner";
pub const ADMIN: &str = "admin";
pub const DEVELOPER: &str = "developer";
pub const AUDITOR: &str = "auditor";
pub const MEMBER: &str = "member";

/// A named set of permissions. Built-in roles live in code and every tenant has them; custom
/// roles are stored per tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// The built-in role's name, or `role-<uuid>` for a custom role; what assignments store.
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub built_in: bool,
    pub created_at: Timestamp,
}

impl Role {
    pub fn new(name: &str, description: &str, permissions: &[String]) -> Result<Self, Invalid> {
        let mut role = Self {
            id: format!("role-{}", Uuid::now_v7().simple()),
            name: String::new(),
            description: String::new(),
            permissions: Vec::new(),
            built_in: false,
            created_at: Timestamp::now(),
        };
        role.set(name, description, permissions)?;
        Ok(role)
    }

    /// Replaces the editable parts, checking each.
    pub fn set(
        &mut self,
        name: &str,
        description: &str,
        permissions: &[String],
    ) -> Result<(), Invalid> {
        let name = Self::check_custom_name(name)?;
        let description = check_description(description)?;
        let mut parsed = permissions
            .iter()
            .map(|p| Permission::parse(p).map_err(|e| e.on("permissions")))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by(|a, b| a.0.cmp(&b.0));
        parsed.dedup();
        self.name = name;
        self.description = description.to_owned();
        self.permissions = parsed;
        Ok(())
    }

    /// The name of a role an admin makes: not one of the built-in roles'.
    pub fn check_custom_name(raw: &str) -> Result<String, Invalid> {
        let name = check_name(raw)?;
        if BUILT_IN
            .iter()
            .any(|(id, ..)| id.eq_ignore_ascii_case(&name))
        {
            return Err(Invalid::new(format!(
                "{name} is the name of a built-in role: choose another name."
            ))
            .on("name"));
        }
        Ok(name)
    }

    /// The roles every tenant has.
    pub fn built_in() -> Vec<Role> {
        BUILT_IN
            .iter()
            .map(|(id, description, permissions)| Role {
                id: (*id).to_owned(),
                name: capitalised(id),
                description: (*description).to_owned(),
                permissions: permissions
                    .iter()
                    .map(|p| Permission((*p).to_owned()))
                    .collect(),
                built_in: true,
                created_at: Timestamp::from_unix(0),
            })
            .collect()
    }
}

const BUILT_IN: &[(&str, &str, &[&str])] = &[
    (OWNER, "Full control of the organisation, including its owners", &["*"]),
    (
        ADMIN,
        "Runs the organisation: users, roles, teams, applications, branding, policies and the audit log",
        &[
            "users:*",
            "roles:manage",
            "teams:manage",
            "clients:manage",
            "branding:manage",
            "settings:manage",
            "audit:read",
            "api_keys:manage",
            "webhooks:manage",
            "connections:manage",
        ],
    ),
    (
        DEVELOPER,
        "Registers applications and manages the ones they registered",
        &["clients:manage_own"],
    ),
    (AUDITOR, "Reads and exports the audit log", &["audit:read"]),
    (MEMBER, "Signs in to applications; no console access", &[]),
];

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The name of a role or team.
pub fn check_name(raw: &str) -> Result<String, Invalid> {
    match one_line(raw, 60) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(Invalid::new("A name is 1 to 60 characters on one line.").on("name")),
    }
}

/// The description of a role or team.
pub fn check_description(raw: &str) -> Result<String, Invalid> {
    one_line(raw, 300).map(str::to_owned).ok_or_else(|| {
        Invalid::new("A description is at most 300 characters on one line.").on("description")
    })
}

/// A group of people who share roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// Ids of the roles every member holds through the team.
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

impl Team {
    pub fn new(name: &str, description: &str) -> Result<Self, Invalid> {
        let mut team = Self {
            id: Uuid::now_v7(),
            name: String::new(),
            description: String::new(),
            roles: Vec::new(),
            created_at: Timestamp::now(),
        };
        team.rename(name, description)?;
        Ok(team)
    }

    pub fn rename(&mut self, name: &str, description: &str) -> Result<(), Invalid> {
        self.name = check_name(name)?;
        self.description = check_description(description)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_scopes_carry_permissions_and_other_scopes_none() {
        let users = Permission::of_api_scope("tessera:users:read")
            .unwrap()
            .unwrap();
        assert_eq!(users.as_str(), "users:read");
        assert!(Permission::of_api_scope("tessera:users:*").unwrap().is_ok());
        assert!(Permission::of_api_scope("tessera:root").unwrap().is_err());
        assert!(Permission::of_api_scope("tessera:").unwrap().is_err());
        assert!(Permission::of_api_scope("users:read").is_none());
        assert!(Permission::of_api_scope("openid").is_none());
    }

    fn grants(perms: &[&str]) -> Grants {
        let role = Role::new(
            "Test",
            "",
            &perms.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        Grants::of([&role])
    }

    #[test]
    fn permissions_parse_only_known_names() {
        for ok in [
            "*",
            "users:read",
            "users:*",
            "clients:manage_own",
            "audit:read",
        ] {
            assert!(Permission::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "users",
            "users:",
            "users:delete",
            "*:*",
            "user:read",
            ":*",
            "users:*:*",
            "x:*",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_and_implications() {
        let g = grants(&["users:*", "clients:manage"]);
        assert!(g.allows("users:read") && g.allows("users:write"));
        assert!(g.allows("clients:manage_own"));
        assert!(!g.allows("audit:read") && !g.allows("roles:manage"));
        assert!(grants(&["*"]).allows("settings:manage"));
        assert!(!grants(&[]).allows("users:read"));
        assert!(grants(&["users:write"]).allows("users:read"));
        assert!(!grants(&["users:read"]).allows("users:write"));
        assert!(!grants(&["clients:manage_own"]).allows("clients:manage"));
    }

    #[test]
    fn nobody_grants_more_than_they_hold() {
        let roles = Role::built_in();
        let owner = roles.iter().find(|r| r.id == OWNER).unwrap();
        let admin = roles.iter().find(|r| r.id == ADMIN).unwrap();
        let admin_grants = Grants::of([admin]);
        assert!(!admin_grants.include(&owner.permissions));
        assert!(admin_grants.include(&admin.permissions));
        assert!(Grants::of([owner]).include(&admin.permissions));
        let all_users = Role::new("x", "", &["users:*".into()]).unwrap();
        assert!(!grants(&["users:write"]).include(&all_users.permissions));
    }

    #[test]
    fn custom_roles_cannot_take_built_in_names() {
        assert!(Role::new("Owner", "", &[]).is_err());
        assert!(Role::new(" ", "", &[]).is_err());
        assert!(Role::new("Support", "Helps people", &["users:read".into()]).is_ok());
    }
}
