"""Request bodies: JSON, or multipart with ``payload_json`` plus ``files[n]`` parts.

discord.py uploads every file as ``application/octet-stream`` and leaves it to
Discord to work out what the bytes are, so the emulator sniffs images (Pillow reads
only the header) to fill ``content_type``, ``width`` and ``height`` like Discord's
CDN does. Size limits are enforced while reading: the whole request may not exceed
25 MiB, and each file may not exceed the limit of the place it is posted to.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from tests.emulators.discord.errors import ApiError, entity_too_large

JSON = dict[str, Any]

MAX_REQUEST_BYTES = 25 * 1024 * 1024
_FILE_FIELD = re.compile(r"^files\[(\d+)\]$|^file(\d*)$")


@dataclass
class UploadedFile:
    index: int
    filename: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RequestBody:
    payload: JSON = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)

    def check_file_sizes(self, limit: int) -> None:
        """413 40005 when any file exceeds ``limit`` bytes, as Discord answers."""
        if any(f.size > limit for f in self.files):
            raise entity_too_large()


def _bad_json() -> ApiError:
    return ApiError(400, 50109, "The request body contains invalid JSON.")


async def read_body(request: web.Request) -> RequestBody:
    """Parse a JSON or multipart body; raise 413 40005 past 25 MiB in total."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        await _drain(request)
        raise entity_too_large()
    if request.content_type.startswith("multipart/"):
        return await _read_multipart(request)
    if request.content_type == "application/x-www-form-urlencoded":
        # aiohttp sends a FormData without files this way; Discord accepts it too.
        form = await request.post()
        raw_payload = form.get("payload_json")
        try:
            payload = json.loads(str(raw_payload)) if raw_payload is not None else {}
        except ValueError:
            raise _bad_json() from None
        if not isinstance(payload, dict):
            raise _bad_json()
        return RequestBody(payload=payload)
    raw = await request.read()
    if len(raw) > MAX_REQUEST_BYTES:
        raise entity_too_large()
    if not raw:
        return RequestBody()
    try:
        payload = json.loads(raw)
    except ValueError:
        raise _bad_json() from None
    if not isinstance(payload, dict):
        raise _bad_json()
    return RequestBody(payload=payload)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad_json() from None


async def _drain(request: web.Request) -> None:
    while await request.content.readany():
        pass


async def _read_multipart(request: web.Request) -> RequestBody:
    reader = await request.multipart()
    body = RequestBody()
    total = 0
    too_large = False
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        chunks: list[bytes] = []
        while chunk := await part.read_chunk(1 << 16):
            total += len(chunk)
            if total > MAX_REQUEST_BYTES:
                too_large = True  # keep draining so the client gets our answer, not a reset
            elif not too_large:
                chunks.append(chunk)
        if too_large:
            continue
        data = b"".join(chunks)
        name = part.name or ""
        if name == "payload_json":
            try:
                payload = json.loads(data)
            except ValueError:
                raise _bad_json() from None
            if isinstance(payload, dict):
                body.payload = payload
            continue
        match = _FILE_FIELD.match(name)
        if match:
            index = int(match.group(1) or match.group(2) or 0)
            body.files.append(UploadedFile(index=index, filename=part.filename or name, data=data))
    if too_large:
        raise entity_too_large()
    return body


@dataclass
class SniffedFile:
    content_type: str | None
    width: int | None = None
    height: int | None = None


_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def sniff(filename: str, data: bytes) -> SniffedFile:
    """What Discord's CDN would report for these bytes."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = _IMAGE_TYPES.get(image.format or "")
            if kind is not None:
                return SniffedFile(content_type=kind, width=image.width, height=image.height)
    except (UnidentifiedImageError, OSError, ValueError):
        pass
    guessed, _ = mimetypes.guess_type(filename)
    if guessed and guessed.startswith("text/"):
        guessed += "; charset=utf-8"
    return SniffedFile(content_type=guessed)
