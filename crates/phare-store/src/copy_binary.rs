//! PostgreSQL's binary `COPY` format (the `COPY` reference, "Binary Format"), for the few column
//! types the ingest writes into `analysis_variants` and its staging table. Binary rather than
//! text: the carrier sets go over as their bytes, not hex, and PostgreSQL reads the numbers
//! without parsing them (decision 0051).

use roaring::RoaringBitmap;

use crate::StoreError;

/// The signature, then a flags field and a header-extension length, both 0.
pub(crate) const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A field count of -1 ends the data.
pub(crate) const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// The jsonb binary representation: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

/// Appends one row's fields to a `COPY … FROM STDIN (FORMAT binary)` stream.
pub(crate) struct RowWriter<'b> {
    buffer: &'b mut Vec<u8>,
}

impl<'b> RowWriter<'b> {
    pub(crate) fn start(buffer: &'b mut Vec<u8>, fields: i16) -> Self {
        buffer.extend_from_slice(&fields.to_be_bytes());
        Self { buffer }
    }

    /// The fields after the first of a row whose field count and first field are written
    /// later, when the value of that first field is known ([`splice_row`]).
    pub(crate) fn tail(buffer: &'b mut Vec<u8>) -> Self {
        Self { buffer }
    }

    pub(crate) fn integer(&mut self, value: i32) {
        self.buffer.extend_from_slice(&4i32.to_be_bytes());
        self.buffer.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn bigint(&mut self, value: i64) {
        self.buffer.extend_from_slice(&8i32.to_be_bytes());
        self.buffer.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn null(&mut self) {
        self.buffer.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A `bytea` holding the bitmap's portable serialisation, written in place.
    pub(crate) fn bitmap(&mut self, bitmap: &RoaringBitmap) -> Result<(), StoreError> {
        self.length(bitmap.serialized_size())?;
        bitmap
            .serialize_into(&mut *self.buffer)
            .map_err(|error| StoreError::Internal(error.to_string()))
    }

    /// A `jsonb` column: NULL for an empty list.
    pub(crate) fn json<T: serde::Serialize>(&mut self, values: &[T]) -> Result<(), StoreError> {
        if values.is_empty() {
            self.null();
            return Ok(());
        }
        let json = serde_json::to_vec(values).map_err(|error| StoreError::Internal(error.to_string()))?;
        self.length(json.len() + 1)?;
        self.buffer.push(JSONB_VERSION);
        self.buffer.extend_from_slice(&json);
        Ok(())
    }

    fn length(&mut self, length: usize) -> Result<(), StoreError> {
        let length = i32::try_from(length)
            .map_err(|_| StoreError::Internal(format!("a field of {length} bytes is too large for COPY")))?;
        self.buffer.extend_from_slice(&length.to_be_bytes());
        Ok(())
    }
}

/// A row of `fields` fields: a `bigint` first, then a tail written by [`RowWriter::tail`].
pub(crate) fn splice_row(buffer: &mut Vec<u8>, fields: i16, first: i64, tail: &[u8]) {
    let mut row = RowWriter::start(buffer, fields);
    row.bigint(first);
    buffer.extend_from_slice(tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_length_prefixed_in_network_order() {
        let mut buffer = Vec::new();
        let mut row = RowWriter::start(&mut buffer, 4);
        row.integer(3);
        row.bigint(258);
        row.null();
        row.json(&[1u8]).expect("json");
        let expected: Vec<u8> = [
            &[0, 4][..],
            &[0, 0, 0, 4, 0, 0, 0, 3],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2],
            &[0xff, 0xff, 0xff, 0xff],
            &[0, 0, 0, 4, 1],
            b"[1]",
        ]
        .concat();
        assert_eq!(buffer, expected);
    }

    #[test]
    fn a_bitmap_is_its_portable_bytes_behind_their_length() {
        let bitmap: RoaringBitmap = [3u32, 70_000].into_iter().collect();
        let mut serialized = Vec::new();
        bitmap.serialize_into(&mut serialized).expect("serialize");
        let mut buffer = Vec::new();
        RowWriter::start(&mut buffer, 1).bitmap(&bitmap).expect("bitmap");
        let length = u32::try_from(serialized.len()).expect("length");
        assert_eq!(&buffer[..2], &[0, 1]);
        assert_eq!(&buffer[2..6], &length.to_be_bytes());
        assert_eq!(&buffer[6..], &serialized[..]);
    }

    #[test]
    fn a_spliced_row_is_the_row_written_in_one_go() {
        let mut whole = Vec::new();
        let mut row = RowWriter::start(&mut whole, 3);
        row.bigint(42);
        row.integer(-2);
        row.json(&["G"]).expect("json");
        let mut tail = Vec::new();
        let mut rest = RowWriter::tail(&mut tail);
        rest.integer(-2);
        rest.json(&["G"]).expect("json");
        let mut spliced = Vec::new();
        splice_row(&mut spliced, 3, 42, &tail);
        assert_eq!(spliced, whole);
        assert_eq!(
            &whole[2 + 12..2 + 12 + 8],
            &[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe],
            "an integer is 4 bytes, two's complement, network order"
        );
    }
}
