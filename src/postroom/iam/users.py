"""Users and their access keys: Create/Get/Delete/ListUsers, Create/List/DeleteAccessKey.

Access key ids encode the account (as AWS's do), so requests signed with them are served
in that account; secrets are returned once and never checked (signatures are not verified).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from postroom.accesskeys import new_secret_key, new_unique_id
from postroom.iam import limits, shapes
from postroom.iam.errors import (
    already_exists,
    delete_conflict,
    limit_exceeded,
    no_such_entity,
    validation_error,
)
from postroom.iam.names import merge_tags, path_of, remove_tags, tag_pairs
from postroom.iam.paging import page, tag_page
from postroom.protocol.context import RequestContext
from postroom.storage.iam import AccessKeyRecord, UserRecord

if TYPE_CHECKING:
    from postroom.iam.service import IamService

Params = dict[str, Any]


def _caller_user_name(svc: IamService, ctx: RequestContext) -> str:
    """The user an operation without UserName applies to: the caller, if it is a user."""
    key = svc.store.access_keys.get(ctx.access_key)
    if key is None:
        raise validation_error("Must specify userName when calling with non-User credentials")
    return key.user_name


def _keys_of(svc: IamService, user: UserRecord) -> list[AccessKeyRecord]:
    return sorted(
        (k for k in svc.store.access_keys.values() if k.account == user.account and k.user_name.lower() == user.key),
        key=lambda k: k.created_at,
    )


async def create_user(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    name = p["UserName"]
    tags = tag_pairs(p.get("Tags"))
    if (ctx.account, name.lower()) in svc.store.users:
        raise already_exists(f"User with name {name} already exists.")
    if sum(1 for acct, _ in svc.store.users if acct == ctx.account) >= limits.MAX_USERS:
        raise limit_exceeded(f"Cannot exceed quota for UsersPerAccount: {limits.MAX_USERS}")
    user = UserRecord(ctx.account, name, path_of(p), new_unique_id("AIDA"), tags, svc.now())
    await svc.store.save_user(user)
    return {"User": shapes.user(user, True)}


async def get_user(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    name = p.get("UserName")
    if name is None:
        key = svc.store.access_keys.get(ctx.access_key)
        if key is None:
            # The root user: IAM answers with the account's own identity.
            return {"User": {"UserId": ctx.account, "Arn": f"arn:aws:iam::{ctx.account}:root",
                             "CreateDate": shapes.timestamp(0)}}
        name = key.user_name
    return {"User": shapes.user(svc.user(ctx.account, name), True)}


async def list_users(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    prefix = p.get("PathPrefix") or "/"
    users = sorted(
        (u for (acct, _), u in svc.store.users.items() if acct == ctx.account and u.path.startswith(prefix)),
        key=lambda u: u.key,
    )
    return page(users, p, lambda u: u.key, "Users", lambda u: shapes.user(u, False))


async def delete_user(svc: IamService, p: Params, ctx: RequestContext) -> None:
    user = svc.user(ctx.account, p["UserName"])
    if _keys_of(svc, user):
        raise delete_conflict("Cannot delete entity, must delete access keys first.")
    await svc.store.delete_user(user)


async def tag_user(svc: IamService, p: Params, ctx: RequestContext) -> None:
    user = copy.deepcopy(svc.user(ctx.account, p["UserName"]))
    user.tags = merge_tags(user.tags, tag_pairs(p["Tags"]), "User")
    await svc.store.save_user(user)


async def untag_user(svc: IamService, p: Params, ctx: RequestContext) -> None:
    user = copy.deepcopy(svc.user(ctx.account, p["UserName"]))
    user.tags = remove_tags(user.tags, p["TagKeys"])
    await svc.store.save_user(user)


async def list_user_tags(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    return tag_page(svc.user(ctx.account, p["UserName"]).tags, p)


async def create_access_key(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    user = svc.user(ctx.account, p.get("UserName") or _caller_user_name(svc, ctx))
    if len(_keys_of(svc, user)) >= limits.MAX_ACCESS_KEYS:
        raise limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {limits.MAX_ACCESS_KEYS}")
    key = AccessKeyRecord(svc.api.new_access_key_id("AKIA", user.account), user.account, user.name,
                          new_secret_key(), "Active", svc.now())
    await svc.store.save_access_key(key)
    return {"AccessKey": {"UserName": key.user_name, "AccessKeyId": key.access_key_id, "Status": key.status,
                          "SecretAccessKey": key.secret, "CreateDate": shapes.timestamp(key.created_at)}}


async def list_access_keys(svc: IamService, p: Params, ctx: RequestContext) -> dict[str, Any]:
    user = svc.user(ctx.account, p.get("UserName") or _caller_user_name(svc, ctx))
    numbered = list(enumerate(_keys_of(svc, user)))
    return page(numbered, p, lambda k: f"{k[0]:08d}", "AccessKeyMetadata", lambda k: {
        "UserName": k[1].user_name, "AccessKeyId": k[1].access_key_id, "Status": k[1].status,
        "CreateDate": shapes.timestamp(k[1].created_at)})


def _key_of(svc: IamService, user: UserRecord, access_key_id: str) -> AccessKeyRecord:
    key = svc.store.access_keys.get(access_key_id)
    if key is None or key.account != user.account or key.user_name.lower() != user.key:
        raise no_such_entity(f"The Access Key with id {access_key_id} cannot be found.")
    return key


async def update_access_key(svc: IamService, p: Params, ctx: RequestContext) -> None:
    user = svc.user(ctx.account, p.get("UserName") or _caller_user_name(svc, ctx))
    key = copy.deepcopy(_key_of(svc, user, p["AccessKeyId"]))
    key.status = p["Status"]
    await svc.store.save_access_key(key)


async def delete_access_key(svc: IamService, p: Params, ctx: RequestContext) -> None:
    user = svc.user(ctx.account, p.get("UserName") or _caller_user_name(svc, ctx))
    key = _key_of(svc, user, p["AccessKeyId"])
    await svc.store.delete_access_key(key.access_key_id)


OPERATIONS = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "DeleteUser": delete_user,
    "TagUser": tag_user,
    "UntagUser": untag_user,
    "ListUserTags": list_user_tags,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
}
