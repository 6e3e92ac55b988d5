//! The card's file system: an ISO/IEC 7816-4 tree of dedicated files (DFs) and transparent
//! elementary files (EFs), with file identifiers, DF names (AIDs), short EF identifiers,
//! life-cycle status and access rules, and the FCP templates the card returns on SELECT.
//!
//! References: ISO/IEC 7816-4:2013 §7.1 (file structures and referencing: FID, DF name, path,
//! SFI), §7.4.3 Table 12 (FCP template `62` and its data objects), Table 13 (life-cycle status
//! byte), §7.4.3 tag `8C` and Tables 17-20 (security attributes in compact format: access mode
//! byte, security condition bytes); IAS-ECC v1.0.1 §7.2 / §9.4 (compact SA in `A1`).

use zeroize::Zeroize;

/// Index of a node in the [`FileSystem`] arena. The MF is node 0.
pub(crate) type NodeId = usize;

/// The MF's file identifier (ISO 7816-4 §7.1.1: `3F00` is reserved for the MF).
pub const MF_FID: u16 = 0x3F00;

/// Access-mode bit of READ BINARY on an EF (ISO 7816-4 Table 17: b1).
pub const AM_READ: u8 = 0x01;
/// Access-mode bit of UPDATE BINARY on an EF (ISO 7816-4 Table 17: b2).
pub const AM_UPDATE: u8 = 0x02;

/// Security condition "always" (ISO 7816-4 Table 20: `00`).
pub const SC_ALWAYS: u8 = 0x00;
/// Security condition "never" (ISO 7816-4 Table 20: `FF`).
pub const SC_NEVER: u8 = 0xFF;

/// An access rule in compact format (ISO 7816-4 §7.4.3, tag `8C`): an access-mode byte and one
/// security-condition byte per bit set among b7..b1, most significant first. Bit b8 of the
/// access-mode byte does not take a condition byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    am: u8,
    scs: Vec<u8>,
}

impl AccessRule {
    /// Parses the value of a `8C` data object. `None` when the number of SC bytes does not
    /// match the access-mode byte.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (&am, scs) = bytes.split_first()?;
        if scs.len() != (am & 0x7F).count_ones() as usize {
            return None;
        }
        Some(AccessRule {
            am,
            scs: scs.to_vec(),
        })
    }

    /// A rule from `(access-mode bit, condition)` pairs, plus the b8 flag of the AM byte.
    pub fn from_pairs(b8: bool, pairs: &[(u8, u8)]) -> Self {
        let mut am = if b8 { 0x80 } else { 0 };
        for &(bit, _) in pairs {
            am |= bit & 0x7F;
        }
        let scs = (0..7)
            .rev()
            .map(|i| 1u8 << i)
            .filter(|bit| am & bit != 0)
            .map(|bit| {
                pairs
                    .iter()
                    .find(|(b, _)| *b == bit)
                    .map_or(SC_NEVER, |(_, sc)| *sc)
            })
            .collect();
        AccessRule { am, scs }
    }

    /// The condition byte for one access-mode bit; `None` when the bit is absent (the
    /// operation is then never allowed).
    pub fn condition(&self, am_bit: u8) -> Option<u8> {
        if self.am & am_bit & 0x7F == 0 {
            return None;
        }
        // Count the bits set above `am_bit` (b7 first) to find its SC byte.
        let higher = (self.am & 0x7F & !(am_bit | (am_bit - 1))).count_ones() as usize;
        self.scs.get(higher).copied()
    }

    /// The value of the `8C` data object: AM byte then SC bytes.
    pub fn compact(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.scs.len());
        out.push(self.am);
        out.extend_from_slice(&self.scs);
        out
    }
}

/// The contents of a node.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// A dedicated file and its children, in creation order.
    Df { children: Vec<NodeId> },
    /// A transparent working EF; its size is fixed at creation (the FCP size is exact).
    Ef { data: Vec<u8> },
}

/// One file of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// File identifier.
    pub fid: u16,
    /// Human name (EF.DIR, DF.CPS-IAS...), for diagnostics only.
    pub name: String,
    /// DF name (AID), DFs only.
    pub aid: Option<Vec<u8>>,
    /// Short EF identifier (1..=30).
    pub sfi: Option<u8>,
    /// Life-cycle status byte (ISO 7816-4 Table 13).
    pub lcs: u8,
    /// Access rule.
    pub acl: AccessRule,
    /// Parent DF (`None` for the MF).
    pub parent: Option<NodeId>,
    /// DF or EF.
    pub kind: NodeKind,
}

impl Drop for Node {
    fn drop(&mut self) {
        // EF.DAM and friends hold personal data: wipe on drop like the card's EEPROM would
        // not, but a test process should.
        if let NodeKind::Ef { data } = &mut self.kind {
            data.zeroize();
        }
    }
}

impl Node {
    /// Whether the node is a DF.
    pub fn is_df(&self) -> bool {
        matches!(self.kind, NodeKind::Df { .. })
    }

    /// Whether the life-cycle status is "operational, deactivated" (ISO 7816-4 Table 13:
    /// `0000 01x0`).
    pub fn is_deactivated(&self) -> bool {
        self.lcs & 0xFD == 0x04
    }

    /// Whether the life-cycle status is "termination" (ISO 7816-4 Table 13: `0000 11xx`).
    pub fn is_terminated(&self) -> bool {
        self.lcs & 0xFC == 0x0C
    }

    /// The FCP template (ISO 7816-4 Table 12), in the form of docs/card-layout.md: `80` size
    /// (EFs), `82` descriptor, `83` FID, `84` DF name, `88` SFI, `8A` life cycle, `A1 { 8C }`.
    pub fn fcp(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(48);
        match &self.kind {
            NodeKind::Ef { data } => {
                let size = u16::try_from(data.len()).unwrap_or(u16::MAX);
                body.extend_from_slice(&[0x80, 0x02]);
                body.extend_from_slice(&size.to_be_bytes());
                // ISO 7816-4 Table 14: 01 = working EF, transparent structure.
                body.extend_from_slice(&[0x82, 0x01, 0x01]);
            }
            // ISO 7816-4 Table 14: 0x38 = DF (b6-b4 = 111).
            NodeKind::Df { .. } => body.extend_from_slice(&[0x82, 0x01, 0x38]),
        }
        body.extend_from_slice(&[0x83, 0x02]);
        body.extend_from_slice(&self.fid.to_be_bytes());
        if let Some(aid) = &self.aid {
            body.push(0x84);
            body.push(aid.len() as u8);
            body.extend_from_slice(aid);
        }
        if let Some(sfi) = self.sfi {
            // ISO 7816-4 Table 12: tag 88 with one byte = SFI in b8-b4, b3-b1 = 000; the
            // real CPx EF.SN FCP has `88 01 E0` for SFI 1C (research §1, step 4).
            body.extend_from_slice(&[0x88, 0x01, sfi << 3]);
        }
        body.extend_from_slice(&[0x8A, 0x01, self.lcs]);
        let compact = self.acl.compact();
        body.push(0xA1);
        body.push((compact.len() + 2) as u8);
        body.push(0x8C);
        body.push(compact.len() as u8);
        body.extend_from_slice(&compact);
        let mut fcp = Vec::with_capacity(body.len() + 3);
        fcp.push(0x62);
        crate::der::push_len(&mut fcp, body.len());
        fcp.extend_from_slice(&body);
        fcp
    }
}

/// The file tree.
#[derive(Debug, Clone)]
pub(crate) struct FileSystem {
    nodes: Vec<Node>,
}

impl FileSystem {
    /// A tree holding only the MF.
    pub fn new(name: &str, aid: Option<Vec<u8>>, acl: AccessRule, lcs: u8) -> Self {
        FileSystem {
            nodes: vec![Node {
                fid: MF_FID,
                name: name.to_owned(),
                aid,
                sfi: None,
                lcs,
                acl,
                parent: None,
                kind: NodeKind::Df {
                    children: Vec::new(),
                },
            }],
        }
    }

    /// The MF.
    pub const MF: NodeId = 0;

    /// A node (never fails for ids handed out by this tree).
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// A node, mutably.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.get_mut(id)
    }

    /// The children of a DF (empty for an EF).
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        match self.node(id).map(|n| &n.kind) {
            Some(NodeKind::Df { children }) => children,
            _ => &[],
        }
    }

    /// Adds `node` under the DF `parent`. Fails on a duplicate FID, SFI or DF name, or when
    /// `parent` is not a DF.
    pub fn add(&mut self, parent: NodeId, mut node: Node) -> Result<NodeId, String> {
        if !self.node(parent).is_some_and(Node::is_df) {
            return Err(format!("{} is not under a DF", node.name));
        }
        if node.fid == MF_FID {
            return Err(format!("{}: FID 3F00 is reserved for the MF", node.name));
        }
        for &c in self.children(parent) {
            let Some(other) = self.node(c) else { continue };
            if other.fid == node.fid {
                return Err(format!("{}: FID {:04X} used twice", node.name, node.fid));
            }
            if node.sfi.is_some() && other.sfi == node.sfi {
                return Err(format!("{}: SFI used twice in one DF", node.name));
            }
        }
        if let Some(sfi) = node.sfi {
            if !(1..=30).contains(&sfi) || node.is_df() {
                return Err(format!("{}: SFI must be 1..=30 and on an EF", node.name));
            }
        }
        if let Some(aid) = &node.aid {
            if !node.is_df() || aid.is_empty() || aid.len() > 16 {
                return Err(format!("{}: a DF name is 1..=16 bytes, on a DF", node.name));
            }
            if self.nodes.iter().any(|n| n.aid.as_ref() == Some(aid)) {
                return Err(format!("{}: DF name used twice", node.name));
            }
        }
        if let NodeKind::Ef { data } = &node.kind {
            if data.len() > usize::from(u16::MAX) {
                return Err(format!("{}: more than 65535 bytes", node.name));
            }
        }
        let id = self.nodes.len();
        node.parent = Some(parent);
        self.nodes.push(node);
        if let Some(Node {
            kind: NodeKind::Df { children },
            ..
        }) = self.nodes.get_mut(parent)
        {
            children.push(id);
        }
        Ok(id)
    }

    /// The child of `df` with this FID.
    pub fn child(&self, df: NodeId, fid: u16) -> Option<NodeId> {
        self.children(df)
            .iter()
            .copied()
            .find(|&c| self.node(c).is_some_and(|n| n.fid == fid))
    }

    /// The parent of a node (the MF is its own parent, ISO 7816-4 §7.1.1 P1 = 03).
    pub fn parent(&self, id: NodeId) -> NodeId {
        self.node(id).and_then(|n| n.parent).unwrap_or(Self::MF)
    }

    /// The file a SELECT by FID (ISO 7816-4 P1 = 00) reaches from the current DF: the MF,
    /// the current DF, a child of it, its parent or a child of the parent (ISO 7816-4
    /// §11.1.1: the FID must be unique in that scope).
    pub fn select_fid(&self, cur_df: NodeId, fid: u16) -> Option<NodeId> {
        if fid == MF_FID {
            return Some(Self::MF);
        }
        if self.node(cur_df).is_some_and(|n| n.fid == fid) {
            return Some(cur_df);
        }
        let parent = self.parent(cur_df);
        self.child(cur_df, fid)
            .or_else(|| (self.node(parent)?.fid == fid).then_some(parent))
            .or_else(|| self.child(parent, fid))
    }

    /// The current DF and EF once `id` is selected: a DF becomes current (no EF), an EF
    /// becomes current with its parent DF.
    pub fn current_after_select(&self, id: NodeId) -> (NodeId, Option<NodeId>) {
        if self.node(id).is_some_and(Node::is_df) {
            (id, None)
        } else {
            (self.parent(id), Some(id))
        }
    }

    /// Follows a path of FIDs from `start`; each component must be a child of the previous
    /// (a leading `3F00` must be handled by the caller).
    pub fn walk(&self, start: NodeId, fids: &[u16]) -> Option<NodeId> {
        let mut at = start;
        for &fid in fids {
            if !self.node(at)?.is_df() {
                return None;
            }
            at = self.child(at, fid)?;
        }
        Some(at)
    }

    /// The DF whose name is `name`, or starts with `name` (right-truncated DF name,
    /// ISO 7816-4 §7.1.1 / §11.2.2 "first occurrence").
    pub fn find_df_name(&self, name: &[u8]) -> Option<NodeId> {
        if name.is_empty() {
            return None;
        }
        let exact = self
            .nodes
            .iter()
            .position(|n| n.aid.as_deref() == Some(name));
        exact.or_else(|| {
            self.nodes
                .iter()
                .position(|n| n.aid.as_ref().is_some_and(|a| a.starts_with(name)))
        })
    }

    /// The EF with this SFI in `df`, else in its ancestors up to the MF [model: ISO 7816-4
    /// §7.1.1 scopes an SFI to the current DF; OpenSC reads EF.SN (`3F00/D003`, SFI 1C) with
    /// the IAS DF current, which the real CPx card answers (OpenSC card-iasecc.c,
    /// `iasecc_get_serialnr`)].
    pub fn find_sfi(&self, df: NodeId, sfi: u8) -> Option<NodeId> {
        let mut at = df;
        loop {
            let found = self.children(at).iter().copied().find(|&c| {
                self.node(c)
                    .is_some_and(|n| !n.is_df() && n.sfi == Some(sfi))
            });
            if found.is_some() {
                return found;
            }
            if at == Self::MF {
                return None;
            }
            at = self.parent(at);
        }
    }

    /// The path of FIDs from the MF (including `3F00`) to a node.
    pub fn path_of(&self, id: NodeId) -> Vec<u16> {
        let mut path = Vec::new();
        let mut at = Some(id);
        let mut guard = 0;
        while let Some(n) = at.and_then(|i| self.node(i)) {
            path.push(n.fid);
            at = n.parent;
            guard += 1;
            if guard > 64 {
                break;
            }
        }
        path.reverse();
        path
    }

    /// Every node id, MF first.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        0..self.nodes.len()
    }

    /// The node at an absolute path (`3F00` first).
    pub fn at_path(&self, path: &[u16]) -> Option<NodeId> {
        match path.split_first() {
            Some((&MF_FID, rest)) => self.walk(Self::MF, rest),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_access_rules() {
        // docs/card-layout.md: "8C 03 03 FF 00" = read always, update never.
        let r = AccessRule::parse(&[0x03, 0xFF, 0x00]).unwrap();
        assert_eq!(r.condition(AM_READ), Some(0x00));
        assert_eq!(r.condition(AM_UPDATE), Some(0xFF));
        assert_eq!(r.condition(0x40), None);
        // The real CPx EF.SN rule (research §1 step 4): 7B FF FF FF FF FF 00.
        let r = AccessRule::parse(&[0x7B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]).unwrap();
        assert_eq!(r.condition(AM_READ), Some(0x00));
        assert_eq!(r.condition(AM_UPDATE), Some(0xFF));
        // b8 takes no SC byte: F3 00 00 13 FF 00 (the CPx PIN SDO rule).
        let r = AccessRule::parse(&[0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00]).unwrap();
        assert_eq!(r.condition(0x10), Some(0x13));
        assert_eq!(r.condition(0x01), Some(0x00));
        assert!(AccessRule::parse(&[0x03, 0x00]).is_none());
        assert!(AccessRule::parse(&[]).is_none());
        let built = AccessRule::from_pairs(
            true,
            &[(0x40, 0), (0x20, 0), (0x10, 0x13), (0x02, 0xFF), (0x01, 0)],
        );
        assert_eq!(built.compact(), [0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00]);
    }

    #[test]
    fn tree_and_fcp() {
        let df_rule = AccessRule::parse(&[0x06, 0xFF, 0xFF]).unwrap();
        let ef_rule = AccessRule::parse(&[0x03, 0xFF, 0x00]).unwrap();
        let mut fs = FileSystem::new("MF", None, df_rule.clone(), 0x05);
        let ef = Node {
            fid: 0xD003,
            name: "EF.SN".into(),
            aid: None,
            sfi: Some(0x1C),
            lcs: 0x05,
            acl: ef_rule.clone(),
            parent: None,
            kind: NodeKind::Ef {
                data: vec![0x5A, 0x01, 0x99],
            },
        };
        let sn = fs.add(FileSystem::MF, ef.clone()).unwrap();
        assert!(fs.add(FileSystem::MF, ef).is_err(), "duplicate FID");
        let df = fs
            .add(
                FileSystem::MF,
                Node {
                    fid: 0x0001,
                    name: "DF".into(),
                    aid: Some(vec![0xE8, 0x28]),
                    sfi: None,
                    lcs: 0x05,
                    acl: df_rule,
                    parent: None,
                    kind: NodeKind::Df { children: vec![] },
                },
            )
            .unwrap();
        assert_eq!(fs.find_sfi(df, 0x1C), Some(sn));
        assert_eq!(fs.find_df_name(&[0xE8, 0x28]), Some(df));
        assert_eq!(fs.find_df_name(&[0xE8]), Some(df));
        assert_eq!(fs.at_path(&[0x3F00, 0x0001]), Some(df));
        assert_eq!(fs.path_of(sn), [0x3F00, 0xD003]);
        assert_eq!(
            fs.node(sn).unwrap().fcp(),
            [
                0x62, 0x18, 0x80, 0x02, 0x00, 0x03, 0x82, 0x01, 0x01, 0x83, 0x02, 0xD0, 0x03, 0x88,
                0x01, 0xE0, 0x8A, 0x01, 0x05, 0xA1, 0x05, 0x8C, 0x03, 0x03, 0xFF, 0x00
            ]
        );
        let dffcp = fs.node(df).unwrap().fcp();
        assert_eq!(&dffcp[..5], &[0x62, 0x15, 0x82, 0x01, 0x38]);
    }
}
