import math

from rruffgeo.data.naming import base_rruff_id, kind_of, parse_file_name


def test_old_naming():
    info = parse_file_name(
        "Abelsonite__R070007__Raman__532__0__unoriented__Raman_Data_Processed__27040.txt")
    assert info.mineral == "Abelsonite"
    assert info.rruff_id == "R070007"
    assert info.laser_nm == 532
    assert info.orientation == "unoriented"
    assert math.isnan(info.orientation_angle_deg)
    assert info.kind == "processed"
    assert info.file_id == "27040"


def test_new_naming_with_subsample_id():
    info = parse_file_name("some/dir/Actinolite__R040063-4__Raman__514__0-000____"
                           "Raman_Data_Processed__c801aaca84d830ae65447fa8483e.txt")
    assert (info.mineral, info.rruff_id, info.laser_nm) == ("Actinolite", "R040063-4", 514)
    assert info.orientation == "oriented"
    assert info.orientation_angle_deg == 0.0
    assert info.orientation_rotation == ""
    assert info.file_id == "c801aaca84d830ae65447fa8483e"


def test_new_naming_ccw_raw():
    info = parse_file_name(
        "Aegirine__R050074-6__Raman__514__45-000__ccw__Raman_Data_RAW__631bf683464b89fd.txt")
    assert info.kind == "raw"
    assert info.orientation_angle_deg == 45.0
    assert info.orientation_rotation == "ccw"


def test_unrelated_name_gives_empty_fields():
    info = parse_file_name("my_measurement.txt")
    assert info.mineral == "" and info.rruff_id == "" and math.isnan(info.laser_nm)


def test_base_id_and_kind():
    assert base_rruff_id("R040063-4") == "R040063"
    assert base_rruff_id("R050016_b") == "R050016"
    assert base_rruff_id("X050194") == "X050194"
    assert base_rruff_id(" weird ") == "weird"
    assert kind_of("Raman RAW") == "raw"
    assert kind_of("Raman Processed") == "processed"
    assert kind_of("Raman_Data_RAW") == "raw"
    assert kind_of("Raman") == ""


def test_2019_oriented_depolarized_name_has_its_angle():
    info = parse_file_name(
        "Baryte__R050342-5__Raman__514__0__depolarized__Raman_Data_Processed__15402.txt")
    assert (info.orientation, info.orientation_angle_deg) == ("oriented", 0.0)
    assert (info.polarization, info.orientation_rotation, info.kind) == (
        "depolarized", "", "processed")
    ccw = parse_file_name("Baryte__R050342-5__Raman__514__45__ccw__Raman_Data_Processed__1509.txt")
    assert (ccw.orientation_angle_deg, ccw.orientation_rotation, ccw.polarization) == (
        45.0, "ccw", "")


def test_laser_field_with_unit_or_decimals():
    name = "Kazanskyite__R130020__Raman__{}__0__ccw__Raman_Data_Processed__37296.txt"
    assert parse_file_name(name.format("532_nm")).laser_nm == 532
    assert parse_file_name(name.format("514.5")).laser_nm == 514.5
    assert math.isnan(parse_file_name(name.format("")).laser_nm)


def test_laser_lines_name_one_laser_once():
    from rruffgeo.data.lasers import laser_line_nm

    assert laser_line_nm(514.0) == laser_line_nm(514.5) == 514.5
    assert laser_line_nm(632.0) == laser_line_nm(632.8) == laser_line_nm(633.0) == 632.8
    assert (laser_line_nm(532.0), laser_line_nm(780.0), laser_line_nm(785.0)) == (532, 780, 785)
    assert math.isnan(laser_line_nm(math.nan))
