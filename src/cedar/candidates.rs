//! Choosing the rules that could apply to a request, so Cedar evaluates a handful of rules
//! instead of the whole set.
//!
//! A rule can only be satisfied — or fail with an error — when its scope matches: Cedar
//! checks `principal`, `action` and `resource` before it evaluates any `when`/`unless`
//! clause. So a rule whose scope cannot match the request is dropped, and nothing else is:
//! the decision, the determining rules and the errors are exactly those of the full set
//! (the engine's tests compare the two on every request of a generated tenant).
//!
//! Rules are indexed by their principal and resource scopes (`==` by entity, `in` by the
//! ancestor named, `is` by type, and the rest); a request looks up its principal and
//! resource and their ancestors, takes the smaller of the two candidate lists and keeps the
//! rules whose other two scopes match as well.

use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    Request, ResourceConstraint, Schema,
};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

#[derive(Debug, Clone)]
enum Scope {
    Any,
    Eq(EntityUid),
    In(EntityUid),
    Is(EntityTypeName),
    IsIn(EntityTypeName, EntityUid),
}

impl From<PrincipalConstraint> for Scope {
    fn from(c: PrincipalConstraint) -> Self {
        match c {
            PrincipalConstraint::Any => Scope::Any,
            PrincipalConstraint::Eq(u) => Scope::Eq(u),
            PrincipalConstraint::In(u) => Scope::In(u),
            PrincipalConstraint::Is(t) => Scope::Is(t),
            PrincipalConstraint::IsIn(t, u) => Scope::IsIn(t, u),
        }
    }
}

impl From<ResourceConstraint> for Scope {
    fn from(c: ResourceConstraint) -> Self {
        match c {
            ResourceConstraint::Any => Scope::Any,
            ResourceConstraint::Eq(u) => Scope::Eq(u),
            ResourceConstraint::In(u) => Scope::In(u),
            ResourceConstraint::Is(t) => Scope::Is(t),
            ResourceConstraint::IsIn(t, u) => Scope::IsIn(t, u),
        }
    }
}

impl Scope {
    /// Cedar's scope semantics: `in` holds for the entity itself and its ancestors.
    fn matches(&self, uid: &EntityUid, ancestors: &HashSet<EntityUid>) -> bool {
        let within = |u: &EntityUid| u == uid || ancestors.contains(u);
        match self {
            Scope::Any => true,
            Scope::Eq(u) => u == uid,
            Scope::In(u) => within(u),
            Scope::Is(t) => uid.type_name() == t,
            Scope::IsIn(t, u) => uid.type_name() == t && within(u),
        }
    }
}

#[derive(Debug, Default)]
struct SideIndex {
    scopes: Vec<Scope>,
    any: Vec<usize>,
    eq: HashMap<EntityUid, Vec<usize>>,
    /// `in U` and `is T in U`, by U.
    within: HashMap<EntityUid, Vec<usize>>,
    is: HashMap<EntityTypeName, Vec<usize>>,
}

impl SideIndex {
    fn add(&mut self, i: usize, scope: Scope) {
        match &scope {
            Scope::Any => self.any.push(i),
            Scope::Eq(u) => self.eq.entry(u.clone()).or_default().push(i),
            Scope::In(u) | Scope::IsIn(_, u) => self.within.entry(u.clone()).or_default().push(i),
            Scope::Is(t) => self.is.entry(t.clone()).or_default().push(i),
        }
        self.scopes.push(scope);
    }

    /// Every rule whose scope on this side could match `uid`; each at most once.
    fn lookup(&self, uid: &EntityUid, ancestors: &HashSet<EntityUid>) -> Vec<usize> {
        let mut out = self.any.clone();
        if let Some(v) = self.eq.get(uid) {
            out.extend(v);
        }
        if let Some(v) = self.is.get(uid.type_name()) {
            out.extend(v);
        }
        for u in std::iter::once(uid).chain(ancestors.iter()) {
            if let Some(v) = self.within.get(u) {
                out.extend(
                    v.iter()
                        .filter(|&&i| self.scopes[i].matches(uid, ancestors)),
                );
            }
        }
        out
    }
}

/// The index of one compiled set.
#[derive(Debug)]
pub struct CandidateIndex {
    policies: Vec<Policy>,
    principal: SideIndex,
    resource: SideIndex,
    actions: Vec<ActionConstraint>,
    action_ancestors: HashMap<EntityUid, HashSet<EntityUid>>,
    /// For each policy, the set of that policy alone, built the first time a request's
    /// only candidate is that policy (many requests have one, and building a `PolicySet`
    /// clones the policy's text and fills several maps). It lives and dies with the index.
    singles: Vec<OnceLock<Option<PolicySet>>>,
    empty: PolicySet,
}

fn ancestors_of(entities: &Entities, uid: &EntityUid) -> HashSet<EntityUid> {
    entities
        .ancestors(uid)
        .map(|a| a.cloned().collect())
        .unwrap_or_default()
}

impl CandidateIndex {
    pub fn new(policies: Vec<Policy>, schema: &Schema) -> Self {
        let mut principal = SideIndex::default();
        let mut resource = SideIndex::default();
        let mut actions = Vec::with_capacity(policies.len());
        for (i, p) in policies.iter().enumerate() {
            principal.add(i, p.principal_constraint().into());
            resource.add(i, p.resource_constraint().into());
            actions.push(p.action_constraint());
        }
        let action_entities = schema
            .action_entities()
            .unwrap_or_else(|_| Entities::empty());
        let action_ancestors = schema
            .actions()
            .map(|a| (a.clone(), ancestors_of(&action_entities, a)))
            .collect();
        CandidateIndex {
            singles: policies.iter().map(|_| OnceLock::new()).collect(),
            empty: PolicySet::new(),
            policies,
            principal,
            resource,
            actions,
            action_ancestors,
        }
    }

    fn action_matches(&self, i: usize, action: &EntityUid) -> bool {
        let none = HashSet::new();
        let ancestors = self.action_ancestors.get(action).unwrap_or(&none);
        match &self.actions[i] {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a) => a == action,
            ActionConstraint::In(list) => list.iter().any(|a| a == action || ancestors.contains(a)),
        }
    }

    /// The policies that could apply, by their index; `None` means "all of them" (a request
    /// with an unknown part, which a scope lookup cannot reason about).
    pub fn select(&self, request: &Request, entities: &Entities) -> Option<Vec<usize>> {
        let (p, a, r) = (request.principal()?, request.action()?, request.resource()?);
        let p_anc = ancestors_of(entities, p);
        let r_anc = ancestors_of(entities, r);
        // Drive the lookup from the side whose catch-all bucket is smaller.
        let mut chosen: Vec<usize> = if self.principal.any.len() <= self.resource.any.len() {
            self.principal
                .lookup(p, &p_anc)
                .into_iter()
                .filter(|&i| self.resource.scopes[i].matches(r, &r_anc))
                .collect()
        } else {
            self.resource
                .lookup(r, &r_anc)
                .into_iter()
                .filter(|&i| self.principal.scopes[i].matches(p, &p_anc))
                .collect()
        };
        chosen.retain(|&i| self.action_matches(i, a));
        chosen.sort_unstable();
        Some(chosen)
    }

    /// The policy set of the chosen policies (by index, from [`Self::select`]); `None` if
    /// Cedar refused to build it, and the caller then evaluates every rule.
    pub fn set_of(&self, chosen: &[usize]) -> Option<Cow<'_, PolicySet>> {
        match chosen {
            [] => Some(Cow::Borrowed(&self.empty)),
            [i] => self.singles[*i]
                .get_or_init(|| PolicySet::from_policies([self.policies[*i].clone()]).ok())
                .as_ref()
                .map(Cow::Borrowed),
            many => PolicySet::from_policies(many.iter().map(|&i| self.policies[i].clone()))
                .ok()
                .map(Cow::Owned),
        }
    }
}
