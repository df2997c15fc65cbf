"""What the demo's residents ask for, and how the agencies book it: needs typical of Kota Bekasi's
Musrenbang, each with the wording a resident would use, a plausible volume and unit price, and the
agency, sub-kegiatan and output indicator an RKPD line for it would carry.

The sub-kegiatan codes follow the structure of the Kepmendagri 050-5889/2021 nomenclature
(`U.BB.PP.K.KK.SSSS`, the urusan of the agency that carries it) but are demo values: check each against
the official list before using any of them for real.
"""

from __future__ import annotations

from typing import NamedTuple


class Need(NamedTuple):
    key: str
    kind: str
    bidang: str
    title: str
    """With `{rt}` and `{rw}`."""
    problem: str
    solution: str
    unit: str
    volume: tuple[int, int]
    unit_cost: int
    """Rupiah per unit, as a verifier's standard price (SSH) would put it."""
    beneficiaries: tuple[int, int]
    agency: str
    """The agency that finally books it (it may reach the city under another, by its bidang)."""
    pass_reason: str
    sub_kegiatan_code: str
    program: str
    kegiatan: str
    sub_kegiatan: str
    output_indicator: str
    priority_program: int
    funding_source: str


# fmt: off
NEEDS: tuple[Need, ...] = (
    Need("jalan_lingkungan", "fisik", "infrastruktur", "Betonisasi jalan lingkungan RT {rt} RW {rw}",
         "Jalan lingkungan rusak dan berlubang, tergenang setiap hujan; dilalui warga, ojek dan anak sekolah"
         " setiap hari.",
         "Betonisasi jalan lingkungan lebar 3 meter mutu K-250 lengkap dengan saluran tepi.",
         "m", (60, 300), 550_000, (150, 900), "DISPERKIMTAN",
         "Jalan lingkungan di kawasan permukiman adalah kewenangan Disperkimtan (PSU), bukan jalan kota",
         "1.04.05.2.01.0006", "Program Peningkatan Prasarana, Sarana dan Utilitas Umum (PSU)",
         "Urusan Penyelenggaraan PSU Perumahan", "Peningkatan Jalan Lingkungan Permukiman",
         "Panjang jalan lingkungan yang ditingkatkan", 4, "apbd_kota"),
    Need("drainase", "fisik", "infrastruktur", "Pembangunan saluran drainase RT {rt} RW {rw}",
         "Saluran air tersumbat dan terlalu kecil sehingga rumah warga kebanjiran setiap musim hujan.",
         "Pembangunan saluran drainase beton U-ditch 40 cm beserta tutup yang dapat dilalui kendaraan.",
         "m", (50, 250), 1_200_000, (100, 700), "DBMSDA", "",
         "1.03.05.2.01.0012", "Program Pengelolaan dan Pengembangan Sistem Drainase",
         "Pengelolaan dan Pengembangan Sistem Drainase dalam Daerah Kabupaten/Kota",
         "Pembangunan Saluran Drainase Lingkungan", "Panjang saluran drainase yang dibangun", 4, "apbd_kota"),
    Need("turap", "fisik", "infrastruktur", "Pembangunan turap kali di RW {rw}",
         "Tebing kali longsor dan mendekati rumah warga; saat debit tinggi air meluap ke permukiman.",
         "Pembangunan turap beton (sheet pile) di sepanjang tebing kali yang kritis.",
         "m", (30, 120), 4_500_000, (200, 1500), "DBMSDA", "",
         "1.03.02.2.01.0009", "Program Pengelolaan Sumber Daya Air (SDA)",
         "Pengelolaan SDA dan Bangunan Pengaman pada Wilayah Sungai dalam Daerah Kabupaten/Kota",
         "Pembangunan Tanggul dan Turap Sungai", "Panjang turap yang dibangun", 4, "apbd_provinsi"),
    Need("pju", "fisik", "infrastruktur", "Pemasangan penerangan jalan umum (PJU) RW {rw}",
         "Jalan gelap pada malam hari; warga pulang kerja merasa tidak aman dan pernah terjadi penjambretan.",
         "Pemasangan lampu PJU LED 60 watt dengan tiang besi di titik-titik gelap.",
         "titik", (5, 20), 9_500_000, (200, 1200), "DISHUB",
         "Penerangan jalan umum adalah perlengkapan jalan yang dikelola Dinas Perhubungan",
         "2.15.02.2.02.0007", "Program Penyelenggaraan Lalu Lintas dan Angkutan Jalan (LLAJ)",
         "Penyediaan Perlengkapan Jalan di Jalan Kabupaten/Kota", "Pengadaan dan Pemasangan Penerangan Jalan Umum",
         "Jumlah titik PJU yang terpasang", 4, "apbd_kota"),
    Need("umkm_olahan", "non_fisik", "ekonomi", "Pelatihan UMKM olahan pangan ibu-ibu RW {rw}",
         "Banyak ibu rumah tangga berjualan makanan rumahan tetapi belum punya izin PIRT, kemasan dan"
         " pencatatan usaha.",
         "Pelatihan pengolahan pangan, pengemasan, pengurusan PIRT dan halal, serta pembukuan sederhana.",
         "orang", (20, 40), 1_250_000, (20, 40), "DINKOPUKM", "",
         "2.17.07.2.01.0002", "Program Pemberdayaan Usaha Menengah, Usaha Kecil, dan Usaha Mikro (UMKM)",
         "Pemberdayaan Usaha Mikro", "Pelatihan Kewirausahaan Usaha Mikro", "Jumlah pelaku usaha mikro yang dilatih",
         2, "apbd_kota"),
    Need("digital_marketing", "non_fisik", "ekonomi", "Pelatihan pemasaran digital bagi pelaku usaha RW {rw}",
         "Pelaku usaha kecil kalah bersaing karena belum bisa berjualan lewat marketplace dan media sosial.",
         "Pelatihan foto produk, toko daring, media sosial dan pembayaran digital, dengan pendampingan tiga bulan.",
         "orang", (25, 50), 1_100_000, (25, 50), "DINKOPUKM", "",
         "2.17.07.2.01.0003", "Program Pemberdayaan Usaha Menengah, Usaha Kecil, dan Usaha Mikro (UMKM)",
         "Pemberdayaan Usaha Mikro", "Pendampingan Pemasaran Digital Usaha Mikro",
         "Jumlah usaha mikro yang berjualan secara daring", 6, "apbd_kota"),
    Need("pelatihan_kerja", "non_fisik", "ekonomi", "Pelatihan keterampilan barista dan tata boga pemuda RW {rw}",
         "Banyak pemuda lulusan SMA/SMK di lingkungan kami menganggur dan belum punya keterampilan kerja.",
         "Pelatihan kerja berbasis kompetensi (barista, tata boga) dengan sertifikat dan penyaluran kerja.",
         "orang", (16, 32), 2_750_000, (16, 32), "DISNAKER",
         "Pelatihan keterampilan bagi pencari kerja adalah urusan tenaga kerja (BLK Disnaker)",
         "2.07.03.2.01.0005", "Program Pelatihan Kerja dan Produktivitas Tenaga Kerja",
         "Pelaksanaan Pelatihan berdasarkan Unit Kompetensi",
         "Pelatihan Keterampilan bagi Pencari Kerja berdasarkan Klaster Kompetensi",
         "Jumlah pencari kerja yang dilatih dan bersertifikat", 4, "apbd_kota"),
    Need("warung_sembako", "non_fisik", "ekonomi", "Pendampingan warung sembako digital RW {rw}",
         "Harga sembako di warung lingkungan naik turun dan pasokan sering kosong menjelang hari besar.",
         "Pendampingan warung sembako warga agar terhubung dengan aplikasi pemesanan grosir dan pasar murah.",
         "warung", (8, 20), 3_500_000, (150, 600), "DISDAGPERIN",
         "Rantai pasok sembako dan stabilisasi harga adalah urusan perdagangan",
         "3.30.04.2.01.0002", "Program Stabilisasi Harga Barang Kebutuhan Pokok dan Barang Penting",
         "Menjamin Ketersediaan Barang Kebutuhan Pokok di Tingkat Daerah Kabupaten/Kota",
         "Pengembangan Warung Sembako Digital", "Jumlah warung yang terhubung dengan rantai pasok digital", 5,
         "apbd_kota"),
    Need("ekraf_konveksi", "non_fisik", "ekonomi", "Pelatihan sablon dan konveksi kreatif Karang Taruna RW {rw}",
         "Karang Taruna punya peralatan sablon bantuan, tetapi anggotanya belum terampil dan belum punya pasar.",
         "Pelatihan desain, sablon dan konveksi, serta kurasi produk untuk pameran ekonomi kreatif kota.",
         "orang", (20, 30), 2_200_000, (20, 30), "DISDAGPERIN",
         "Pembinaan industri kecil kreatif adalah urusan perindustrian",
         "3.31.02.2.01.0004", "Program Pengembangan Industri", "Pembinaan Industri Kecil dan Menengah",
         "Pembinaan Industri Kecil Menengah Kreatif", "Jumlah pelaku IKM kreatif yang dibina", 1, "apbd_kota"),
    Need("paud_ape", "fisik", "pendidikan", "Pengadaan alat permainan edukatif PAUD di RW {rw}",
         "PAUD warga kekurangan alat permainan edukatif; yang ada sudah rusak dan tidak aman bagi anak.",
         "Pengadaan satu paket alat permainan edukatif dalam dan luar ruang sesuai standar PAUD.",
         "paket", (1, 3), 28_000_000, (30, 90), "DISDIK", "",
         "1.01.02.2.03.0011", "Program Pengelolaan Pendidikan", "Pengelolaan Pendidikan Anak Usia Dini (PAUD)",
         "Pengadaan Alat Praktik dan Peraga Peserta Didik", "Jumlah PAUD yang menerima alat peraga", 4, "apbn"),
    Need("taman_baca", "fisik", "pendidikan", "Taman bacaan masyarakat di balai warga RW {rw}",
         "Anak-anak tidak punya tempat membaca dan belajar bersama di lingkungan; perpustakaan terdekat jauh.",
         "Pengadaan rak, buku bacaan anak dan remaja, serta pelatihan pengelola taman bacaan.",
         "unit", (1, 2), 35_000_000, (100, 400), "DISDIK", "",
         "1.01.02.2.04.0003", "Program Pengelolaan Pendidikan", "Pengelolaan Pendidikan Nonformal/Kesetaraan",
         "Pengembangan Taman Bacaan Masyarakat", "Jumlah taman bacaan masyarakat yang aktif", 6, "apbd_kota"),
    Need("posyandu", "fisik", "kesehatan", "Sarana posyandu RW {rw} (timbangan, alat ukur, meja lima langkah)",
         "Posyandu melayani banyak balita tetapi timbangan dan alat ukur tinggi badan sudah rusak dan tidak akurat.",
         "Pengadaan timbangan digital, alat ukur panjang/tinggi badan, dan kelengkapan meja lima langkah.",
         "paket", (1, 3), 15_000_000, (60, 250), "DINKES", "",
         "1.02.02.2.02.0037", "Program Pemenuhan Upaya Kesehatan Perorangan dan Upaya Kesehatan Masyarakat",
         "Penyediaan Layanan Kesehatan untuk UKM dan UKP Rujukan Tingkat Daerah Kabupaten/Kota",
         "Pengelolaan Pelayanan Kesehatan Balita", "Jumlah posyandu dengan alat antropometri standar", 4, "apbn"),
    Need("pmt_stunting", "non_fisik", "kesehatan", "Pemberian makanan tambahan balita berisiko stunting RW {rw}",
         "Ada balita di RW kami dengan berat badan kurang dan berisiko stunting; keluarga kurang mampu.",
         "Pemberian makanan tambahan lokal selama 90 hari dan kelas gizi untuk para ibu.",
         "balita", (15, 40), 900_000, (15, 40), "DINKES", "",
         "1.02.02.2.02.0020", "Program Pemenuhan Upaya Kesehatan Perorangan dan Upaya Kesehatan Masyarakat",
         "Penyediaan Layanan Kesehatan untuk UKM dan UKP Rujukan Tingkat Daerah Kabupaten/Kota",
         "Pengelolaan Pelayanan Kesehatan Gizi Masyarakat", "Jumlah balita berisiko stunting yang mendapat PMT", 4,
         "apbd_kota"),
    Need("lapangan", "fisik", "sosial_budaya", "Rehabilitasi lapangan olahraga warga RW {rw}",
         "Lapangan voli dan bulu tangkis warga rusak, permukaannya retak dan tergenang; pemuda tidak punya"
         " tempat berolahraga.",
         "Perbaikan lantai lapangan, pemasangan jaring, tiang dan pagar pengaman.",
         "unit", (1, 1), 120_000_000, (150, 600), "DISPORA",
         "Sarana olahraga masyarakat adalah urusan kepemudaan dan olahraga",
         "2.19.03.2.03.0001", "Program Pengembangan Kapasitas Daya Saing Keolahragaan",
         "Penyediaan Sarana dan Prasarana Olahraga", "Pembangunan Lapangan Olahraga Lingkungan",
         "Jumlah lapangan olahraga lingkungan yang direhabilitasi", 4, "apbd_kota"),
    Need("sanggar_seni", "non_fisik", "sosial_budaya", "Pembinaan sanggar seni budaya Betawi RW {rw}",
         "Sanggar tari dan gambang kromong warga kekurangan pelatih dan kostum; anak muda mulai meninggalkannya.",
         "Honor pelatih selama enam bulan, kostum, dan pentas di festival budaya kota.",
         "sanggar", (1, 2), 45_000_000, (40, 150), "DISBUDPAR",
         "Pembinaan kesenian tradisional adalah urusan kebudayaan",
         "2.22.02.2.01.0005", "Program Pengembangan Kebudayaan", "Pelestarian Kesenian Tradisional",
         "Pembinaan Sanggar Seni Komunitas", "Jumlah sanggar seni yang dibina", 1, "apbd_kota"),
    Need("alat_disabilitas", "fisik", "sosial_budaya", "Alat bantu bagi warga penyandang disabilitas RW {rw}",
         "Beberapa warga penyandang disabilitas tidak dapat beraktivitas karena tidak punya kursi roda atau"
         " alat bantu.",
         "Pemberian kursi roda, kruk dan alat bantu dengar sesuai hasil asesmen pekerja sosial.",
         "unit", (4, 12), 4_500_000, (4, 12), "DINSOS", "",
         "1.06.04.2.01.0003", "Program Rehabilitasi Sosial",
         "Rehabilitasi Sosial Dasar Penyandang Disabilitas Terlantar",
         "Pemberian Alat Bantu bagi Penyandang Disabilitas", "Jumlah penyandang disabilitas yang menerima alat bantu",
         4, "apbd_kota"),
    Need("bank_sampah", "fisik", "lingkungan_hidup", "Sarana bank sampah RW {rw}",
         "Sampah rumah tangga menumpuk di pinggir kali; bank sampah warga sudah berjalan tetapi tanpa"
         " timbangan dan gudang.",
         "Pengadaan timbangan, gerobak, karung dan rak penyimpanan, serta pelatihan pengelola bank sampah.",
         "paket", (1, 2), 32_000_000, (200, 800), "DLH", "",
         "2.11.05.2.01.0004", "Program Pengelolaan Persampahan", "Pengelolaan Sampah",
         "Penyediaan Sarana dan Prasarana Bank Sampah", "Jumlah bank sampah yang beroperasi", 3, "apbd_kota"),
    Need("biopori", "non_fisik", "lingkungan_hidup", "Pelatihan biopori dan kompos rumah tangga RW {rw}",
         "Halaman warga sering tergenang dan sampah organik dibuang ke kali karena warga belum tahu cara mengolahnya.",
         "Pelatihan pembuatan lubang resapan biopori dan komposter, beserta alat bor biopori untuk tiap RT.",
         "orang", (30, 60), 600_000, (30, 60), "DLH", "",
         "2.11.08.2.01.0001", "Program Peningkatan Pendidikan, Pelatihan dan Penyuluhan Lingkungan Hidup",
         "Penyelenggaraan Pendidikan, Pelatihan, dan Penyuluhan Lingkungan Hidup untuk Masyarakat",
         "Pelatihan Pembuatan Biopori dan Kompos", "Jumlah warga yang dilatih mengolah sampah organik", 3, "apbd_kota"),
    Need("apar", "fisik", "pemerintahan", "Alat pemadam api ringan (APAR) untuk permukiman padat RW {rw}",
         "Permukiman padat dengan gang sempit; mobil pemadam sulit masuk dan tahun lalu terjadi kebakaran.",
         "Pengadaan APAR 6 kg di setiap RT dan pelatihan relawan kebakaran lingkungan.",
         "unit", (10, 30), 1_400_000, (300, 1200), "BPBD",
         "Kesiapsiagaan kebakaran dan bencana di permukiman ditangani BPBD",
         "1.05.03.2.02.0003", "Program Penanggulangan Bencana",
         "Pelayanan Pencegahan dan Kesiapsiagaan terhadap Bencana", "Penyediaan Alat Pemadam Api Ringan Lingkungan",
         "Jumlah RT yang memiliki APAR dan relawan terlatih", 4, "apbd_kota"),
    Need("cctv", "fisik", "pemerintahan", "Pemasangan CCTV lingkungan terhubung Command Center RW {rw}",
         "Sering terjadi pencurian motor di jalan masuk lingkungan; tidak ada rekaman untuk membantu polisi.",
         "Pemasangan kamera CCTV di pintu masuk lingkungan yang terhubung ke Bekasi Command Center.",
         "titik", (2, 6), 12_500_000, (300, 1000), "DISKOMINFO",
         "CCTV yang terhubung ke Command Center dikelola Diskominfostandi",
         "2.16.03.2.01.0005", "Program Pengelolaan Aplikasi Informatika",
         "Pengelolaan Sistem Informasi dan Infrastruktur Kota Cerdas", "Pemasangan CCTV Lingkungan Terintegrasi",
         "Jumlah titik CCTV lingkungan yang terhubung", 5, "apbd_kota"),
    Need("kapasitas_rtrw", "non_fisik", "pemerintahan", "Peningkatan kapasitas pengurus RT/RW Kelurahan (RW {rw})",
         "Pengurus RT/RW baru belum memahami administrasi kependudukan, pelaporan dan aplikasi layanan kelurahan.",
         "Bimbingan teknis administrasi, pelayanan surat pengantar daring, dan penyusunan usulan Musrenbang.",
         "orang", (30, 60), 450_000, (30, 60), "SETDA", "",
         "4.01.02.2.01.0003", "Program Pemerintahan dan Kesejahteraan Rakyat", "Pelaksanaan Kebijakan Pemerintahan",
         "Peningkatan Kapasitas Pengurus RT/RW dan LPM", "Jumlah pengurus RT/RW yang mengikuti bimbingan teknis", 2,
         "dana_kelurahan"),
)
# fmt: on

STREETS = (
    "Jl. Melati",
    "Jl. Mawar",
    "Gg. Masjid",
    "Jl. H. Naman",
    "Gg. Haji Ridi",
    "Jl. Kenanga",
    "Jl. Pendidikan",
    "Jl. Swadaya",
    "Gg. Mushola Al-Ikhlas",
    "Jl. Bougenville",
    "Jl. Cempaka",
    "Jl. Kali Baru",
    "Gg. Langgar",
    "Jl. Raya Setu",
    "Jl. Flamboyan",
    "Jl. Anggrek",
    "Gg. Damai",
    "Jl. Veteran Dalam",
    "Jl. Kemuning",
)
MEN = (
    "Ahmad",
    "Budi",
    "Dedi",
    "Eko",
    "Hendra",
    "Iwan",
    "Joko",
    "Rahmat",
    "Slamet",
    "Yusuf",
    "Agus",
    "Bambang",
    "Dimas",
    "Fajar",
    "Haris",
    "Irfan",
    "Muhammad",
    "Rizky",
    "Sutrisno",
    "Wahyu",
    "Asep",
    "Ujang",
    "Sarmili",
)
WOMEN = (
    "Ani",
    "Dewi",
    "Fitri",
    "Indah",
    "Lestari",
    "Nurhayati",
    "Rina",
    "Siti",
    "Sri",
    "Yuni",
    "Aisyah",
    "Dian",
    "Eka",
    "Maya",
    "Nining",
    "Ratna",
    "Suryani",
    "Tuti",
    "Wulan",
    "Zahra",
    "Mpok Minah",
    "Hj. Romlah",
)
FAMILY = (
    "Saputra",
    "Hidayat",
    "Santoso",
    "Wijaya",
    "Kurniawan",
    "Setiawan",
    "Pratama",
    "Nugroho",
    "Rahayu",
    "Lestari",
    "Sulaiman",
    "Hasan",
    "Syahputra",
    "Ramadhan",
    "Permana",
    "Sanusi",
    "Mursid",
    "Fauzi",
)

REJECT_REASONS = (
    "Lokasi berada di ruas jalan provinsi; bukan kewenangan pemerintah kota",
    "Lahan berstatus milik pribadi dan belum ada surat pernyataan hibah",
    "Sudah dianggarkan dalam APBD 2021 dan sedang dikerjakan",
    "Termasuk kegiatan rutin yang dibiayai dana kelurahan, bukan usulan Musrenbang",
)
RETURN_REASONS = (
    "Lengkapi nomor RT dan alamat lokasi; volume belum sesuai hasil peninjauan",
    "Uraian masalah belum jelas: sebutkan berapa warga yang terdampak dan sejak kapan",
    "Volume terlalu besar untuk satu usulan; sesuaikan dengan panjang yang benar-benar rusak",
)
CHANGE_REASONS = (
    "Disesuaikan dengan standar harga satuan (SSH) Kota Bekasi 2022",
    "Volume disesuaikan dengan hasil peninjauan lapangan bersama LPM",
)
ADJUST_REASONS = (
    "Disepakati forum: biaya disesuaikan dengan hasil survei harga bersama LPM",
    "Volume dikurangi agar usulan lain dari RW yang sama dapat terakomodasi",
    "Sebagian pekerjaan sudah dibiayai swadaya warga",
)
DECLINE_REASONS = (
    "Sudah dianggarkan melalui Dana Alokasi Khusus (DAK) 2022",
    "Menunggu kajian teknis; diusulkan kembali pada RKPD 2023",
    "Melebihi pagu indikatif perangkat daerah tahun 2022; menjadi prioritas tahun berikutnya",
    "Lokasi masuk rencana pembangunan jalan tol/provinsi; ditangani instansi vertikal",
)
DUPLICATE_REASON = "Usulan sama untuk lokasi dan kegiatan yang sama (RW {rw}); digabung agar tidak dihitung dua kali"

# --- after adoption: what became of the 2022 lines ---------------------------------------------------------

CONTRACTORS = (
    "CV Karya Mandiri Bekasi", "PT Bangun Persada Utama", "CV Tirta Jaya Konstruksi", "PT Cipta Marga Nusantara",
    "CV Sinar Harapan Teknik", "CV Mitra Bina Lestari", "PT Graha Sarana Abadi", "CV Putra Patriot Konstruksi",
)  # fmt: skip
APBD_REASONS = (
    "efisiensi hasil evaluasi harga satuan",
    "penyesuaian kapasitas fiskal dalam pembahasan KUA-PPAS",
    "volume disesuaikan dengan hasil survei lapangan",
)
PROGRESS_NOTES = (
    "pekerjaan persiapan dan pengukuran selesai",
    "galian dan pemasangan saluran berjalan",
    "pengecoran tahap pertama selesai",
    "pemasangan material utama berjalan sesuai jadwal",
)
FINISH_NOTES = (
    "serah terima pertama (PHO) dengan berita acara",
    "pekerjaan selesai dan diserahterimakan kepada kelurahan",
)
DROP_REASONS = (
    "anggaran dialihkan untuk penanganan pandemi (refocusing APBD)",
    "lahan belum tersedia; dianggarkan kembali tahun berikutnya",
)

# --- the agencies' own plans (Renja): RKPD lines with no resident origin ---------------------------------

RENJA = (
    # (need whose agency and nomenclature it uses, reason, volume, pagu, how many kelurahan; 0: city-wide)
    ("drainase", "Renstra DBMSDA 2018-2023: normalisasi saluran primer kawasan rawan banjir", 1800, 2_400_000_000, 3),
    ("posyandu", "Standar pelayanan minimal kesehatan: sarana posyandu di kelurahan yang belum memenuhi", 12,
     180_000_000, 4),
    ("pju", "Lanjutan pekerjaan 2021: PJU jalan kota yang belum selesai terpasang", 60, 570_000_000, 0),
)  # fmt: skip

# What a kecamatan books for Dana Kelurahan (Permendagri 130/2018: kelurahan infrastructure and
# empowerment agreed at the Musrenbang Kelurahan), under the kecamatan's own urusan (7.01).
DANA_KELURAHAN = {
    "program": "Program Pemberdayaan Masyarakat Desa dan Kelurahan",
    "kegiatan": "Pemberdayaan Masyarakat Desa dan Kelurahan",
    "sub_kegiatan": "Pembangunan Sarana dan Prasarana Kelurahan",
    "sub_kegiatan_code": "7.01.03.2.01.0002",
    "output_indicator": "Sarana dan prasarana kelurahan yang dibangun",
    "pass_reason": "Dibiayai Dana Kelurahan: dianggarkan melalui kecamatan",
}

# DPRD members who bring pokir from their reses (names made up for the demo, marked so; factions too), each
# in one of Kota Bekasi's daerah pemilihan (the settings file lists their kecamatan).
DPRD_MEMBERS = (
    ("dprd.rahmat", "H. Rahmat Hidayat, S.E. (contoh demo)", "Fraksi Contoh Satu", "Bekasi 1"),
    ("dprd.wahyuni", "Dra. Sri Wahyuni (contoh demo)", "Fraksi Contoh Dua", "Bekasi 2"),
    ("dprd.bambang", "Ir. Bambang Setiawan (contoh demo)", "Fraksi Contoh Tiga", "Bekasi 3"),
    ("dprd.nurlela", "Hj. Nurlela, S.Pd. (contoh demo)", "Fraksi Contoh Satu", "Bekasi 4"),
    ("dprd.andi", "Andi Saputra, S.H. (contoh demo)", "Fraksi Contoh Dua", "Bekasi 5"),
)
RESES_PLACES = ("Aula Kelurahan {kelurahan}", "Balai warga RW {rw:02d} {kelurahan}", "Masjid RW {rw:02d} {kelurahan}",
                "Lapangan RW {rw:02d} {kelurahan}")  # fmt: skip
POKIR_RETURN_REASONS = (
    "Sebutkan RT yang terdampak dan perbaiki perkiraan biaya menurut standar harga satuan",
    "Lampirkan alamat lokasi yang lebih jelas",
)
