"""Media (image, video, audio, document, sticker) from neonize: what a download needs is kept
in the conversion, so the journal can retry it after a restart."""

from __future__ import annotations

from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e

from tests.support.kinds import live


def test_media_carries_what_a_download_needs() -> None:
    image = e2e.ImageMessage(
        mimetype="image/jpeg",
        directPath="/v/t62.7118-24/x",
        mediaKey=b"k" * 32,
        fileSHA256=bytes(range(32)),
        fileLength=2048,
    )
    message = live(e2e.Message(imageMessage=image))
    assert message.media is not None
    assert (message.media.size_bytes, message.media.sha256) == (2048, bytes(range(32)).hex())
    assert message.media.download is not None
    no_key = live(e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/jpeg")))
    assert no_key.media is not None and no_key.media.download is None
