//! Reading the activation QR from a picture, as the app's camera would (here a PNG file).
//! The payload is then checked like a scanned one: signature first (P6).

use crate::error::{DeviceError, Result};
use std::path::Path;

/// The text of the first QR code found in the PNG at `path`.
pub fn decode_png(path: &Path) -> Result<String> {
    let img = image::open(path)
        .map_err(|e| DeviceError::State(format!("cannot read the picture {}: {e}", path.display())))?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .find_map(|grid| grid.decode().ok().map(|(_, content)| content))
        .ok_or_else(|| DeviceError::State(format!("no QR code found in {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_a_rendered_qr_and_refuses_a_picture_without_one() {
        let payload = "SIGILLO1:7JFJM-YR1TK-M5Z49-61Z2B:1800000000000:MEUCIQDexample";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qr.png");
        let code = qrcode::QrCode::new(payload.as_bytes()).unwrap();
        code.render::<image::Luma<u8>>().min_dimensions(200, 200).build().save(&path).unwrap();
        assert_eq!(decode_png(&path).unwrap(), payload);

        let blank = dir.path().join("blank.png");
        image::GrayImage::from_pixel(64, 64, image::Luma([255])).save(&blank).unwrap();
        assert!(decode_png(&blank).is_err());
        assert!(decode_png(&dir.path().join("missing.png")).is_err());
    }
}
