"""Provisions through Tessera's SCIM 2.0 endpoints with scim2-client (PyPI), a third-party
client that validates every answer against RFC 7643/7644 and the schemas the server publishes.

Run by tests/scim.rs with SCIM_URL (the organisation's /scim/v2) and SCIM_TOKEN (an API key);
prints one line per step and exits non-zero at the first failure.
"""

import os
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ListResponse, PatchOp, PatchOperation, SearchRequest


def step(text):
    print(text, flush=True)


def main():
    http = httpx2.Client(
        base_url=os.environ["SCIM_URL"],
        headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
    )
    scim = SyncSCIMClient(http)
    scim.discover()
    names = sorted(rt.name for rt in scim.provider.resource_types)
    assert names == ["Group", "User"], names
    assert scim.provider.config.patch.supported
    step("discovered User and Group")

    user_model = scim.get_resource_model("User")
    group_model = scim.get_resource_model("Group")
    made = scim.create(
        user_model(
            user_name="grace@acme.org",
            external_id="hr-0042",
            name={"formatted": "Grace Hopper"},
            emails=[{"value": "grace@acme.org", "primary": True}],
            active=True,
        )
    )
    assert made.id and made.user_name == "grace@acme.org", made
    assert made.meta.location.endswith(f"/Users/{made.id}"), made.meta
    step(f"created user {made.id}")

    found = scim.query(user_model, query_parameters=SearchRequest(filter='userName eq "GRACE@acme.org"'))
    assert isinstance(found, ListResponse) and found.total_results == 1, found
    assert found.resources[0].id == made.id
    by_hr = scim.query(user_model, query_parameters=SearchRequest(filter='externalId eq "hr-0042"'))
    assert by_hr.total_results == 1 and by_hr.resources[0].external_id == "hr-0042", by_hr
    none = scim.query(user_model, query_parameters=SearchRequest(filter='userName sw "nobody"'))
    assert none.total_results == 0, none
    step("filtered users")

    patch = PatchOp[user_model](
        operations=[PatchOperation(op=PatchOperation.Op.replace_, path="active", value=False)]
    )
    scim.modify(user_model, made.id, patch)
    read = scim.query(user_model, made.id)
    assert read.active is False, read
    step("deactivated the user with PATCH")

    read.display_name = None
    read.name.formatted = "Grace B. Hopper"
    read.active = True
    replaced = scim.replace(read)
    assert replaced.name.formatted == "Grace B. Hopper" and replaced.active is True, replaced
    step("replaced the user with PUT")

    group = scim.create(
        group_model(display_name="Compilers", members=[{"value": made.id, "type": "User"}])
    )
    assert group.id and [m.value for m in group.members] == [made.id], group
    member = scim.query(user_model, made.id)
    assert [(g.value, g.display) for g in member.groups] == [(group.id, "Compilers")], member
    groups = scim.query(group_model, query_parameters=SearchRequest(filter='displayName co "compil"'))
    assert groups.total_results == 1, groups
    remove = PatchOp[group_model](
        operations=[
            PatchOperation(op=PatchOperation.Op.remove, path=f'members[value eq "{made.id}"]'),
            PatchOperation(op=PatchOperation.Op.replace_, path="displayName", value="Compiler team"),
        ]
    )
    scim.modify(group_model, group.id, remove)
    group = scim.query(group_model, group.id)
    assert group.display_name == "Compiler team" and not group.members, group
    assert not scim.query(user_model, made.id).groups
    step("created, found and patched a group")

    scim.delete(group_model, group.id)
    scim.delete(user_model, made.id)
    gone = scim.query(user_model, query_parameters=SearchRequest(filter='userName eq "grace@acme.org"'))
    assert gone.total_results == 0, gone
    step("deleted the group and the user")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # the test shows what failed
        print(f"FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        raise
