package staff

// KindCasePublish publishes a resolved ticket as an anonymised case on the
// public /cases page (issue 13 §4). What the shop says in public is the
// owners' to approve.
const KindCasePublish Kind = "case_publish"

func init() { RegisterKind(KindCasePublish, RoleOwner, false) }
