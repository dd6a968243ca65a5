"""An upload handler that stops keeping a request's files past a size limit."""

from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class SizeLimitUploadHandler(FileUploadHandler):
    """Put first in ``request.upload_handlers``: past ``limit`` bytes of one file the
    upload is stopped, nothing of it is kept (the rest of the body is read and
    discarded), and ``exceeded`` tells the view why the file is missing."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None
