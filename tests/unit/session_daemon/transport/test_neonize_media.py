"""whatsmeow's download errors (the texts neonize 0.5.2's Go library raises, read from its .so)
mapped to the media job's reasons, through neonize's own `DownloadError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neonize.exc import DownloadError as NeonizeDownloadError
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from session_daemon.media.jobs import DownloadError
from session_daemon.transport.neonize_media import (
    classify_download_error,
    download_info,
    neonize_fetch,
)

CASES = {
    "download failed with status code 404": ("expired", True),
    "download failed with status code 410": ("expired", True),
    "didn't find any attachments in message": ("no_download_info", True),
    "no url present": ("no_download_info", True),
    "unknown media type": ("no_download_info", True),
    "media download path does not start with slash: x": ("no_download_info", True),
    "invalid media hmac": ("corrupt", False),
    "hash of media ciphertext doesn't match": ("corrupt", False),
    "hash of unencrypted media doesn't match": ("corrupt", False),
    "download failed with status code 503": ("download_failed", False),
    "dial tcp: lookup mmg.whatsapp.net: no such host": ("download_failed", False),
}


@pytest.mark.parametrize(("text", "expected"), CASES.items())
def test_whatsmeow_errors_map_to_reasons(text: str, expected: tuple[str, bool]) -> None:
    got = classify_download_error(text)
    assert (got.reason, got.permanent) == expected


class Client:
    """Answers `download_any` as neonize's AClient does: bytes, or its DownloadError."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[Any] = []

    async def download_any(self, message: Any) -> Any:
        self.asked.append(message)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_fetch_returns_bytes_or_a_classified_error() -> None:
    message = e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/jpeg"))
    client = Client(b"jpeg")
    assert await neonize_fetch(client, message)() == b"jpeg"
    assert client.asked == [message]
    gone = Client(NeonizeDownloadError("download failed with status code 410"))
    with pytest.raises(DownloadError) as caught:
        await neonize_fetch(gone, message)()
    assert (caught.value.reason, caught.value.permanent) == ("expired", True)
    with pytest.raises(DownloadError) as empty:
        await neonize_fetch(Client(None), message)()
    assert empty.value.reason == "download_failed"


async def test_the_real_library_error_path(tmp_path: Path) -> None:
    """neonize 0.5.2's Go `DownloadAny`, for real, with no WhatsApp: a message without a file
    is final (`no_download_info`), a file on a client Go does not hold is retried."""
    from neonize.aioze.client import NewAClient

    client = NewAClient(str(tmp_path / "media-test.db"))  # never connected: no Go session
    text = e2e.Message(conversation="Bună!")
    with pytest.raises(DownloadError) as nothing:
        await neonize_fetch(client, text)()
    assert (nothing.value.reason, nothing.value.permanent) == ("no_download_info", True)
    assert "didn't find any attachments" in str(nothing.value)
    image = e2e.Message(
        imageMessage=e2e.ImageMessage(
            mimetype="image/jpeg",
            directPath="/v/t62.7118-24/x",
            mediaKey=b"k" * 32,
            fileSHA256=b"s" * 32,
            fileEncSHA256=b"e" * 32,
            fileLength=10,
        )
    )
    with pytest.raises(DownloadError) as offline:
        await neonize_fetch(client, image)()
    assert (offline.value.reason, offline.value.permanent) == ("download_failed", False)


def _image(**extra: Any) -> Any:
    return e2e.ImageMessage(
        mimetype="image/jpeg",
        caption="poza de la petrecere",
        directPath="/v/t62.7118-24/x",
        mediaKey=b"k" * 32,
        fileSHA256=bytes(range(32)),
        fileEncSHA256=b"e" * 32,
        fileLength=123456,
        JPEGThumbnail=b"\xff\xd8thumb",
        **extra,
    )


def test_download_info_of_each_attachment_kind() -> None:
    info = download_info(e2e.Message(imageMessage=_image()))
    assert info is not None
    assert (info.media_type, info.mimetype, info.size_bytes) == ("image", "image/jpeg", 123456)
    assert info.sha256 == bytes(range(32)).hex() and info.thumb_base64 == "/9h0aHVtYg=="
    assert info.message() == e2e.Message(imageMessage=_image())
    voice = download_info(
        e2e.Message(audioMessage=e2e.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True))
    )
    assert voice is not None and (voice.media_type, voice.voice) == ("audio", True)
    doc = download_info(
        e2e.Message(
            documentWithCaptionMessage=e2e.FutureProofMessage(
                message=e2e.Message(
                    documentMessage=e2e.DocumentMessage(
                        mimetype="application/pdf", fileName="contract.pdf", fileLength=9
                    )
                )
            )
        )
    )
    assert doc is not None and (doc.media_type, doc.filename) == ("document", "contract.pdf")
    assert doc.message().HasField("documentMessage")  # unwrapped: what DownloadAny reads
    sticker = download_info(e2e.Message(stickerMessage=e2e.StickerMessage(mimetype="image/webp")))
    assert sticker is not None and sticker.media_type == "sticker"
    note = download_info(e2e.Message(ptvMessage=e2e.VideoMessage(mimetype="video/mp4")))
    assert note is not None and note.media_type == "video"
    assert note.message().HasField("videoMessage")
    view_once = download_info(
        e2e.Message(
            viewOnceMessageV2=e2e.FutureProofMessage(message=e2e.Message(imageMessage=_image()))
        )
    )
    assert view_once is not None and view_once.message().HasField("imageMessage")
    assert download_info(e2e.Message(conversation="Bună!")) is None
